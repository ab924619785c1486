# syntax=docker/dockerfile:1
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/dialhook .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/dialhook /dialhook
USER nonroot:nonroot
EXPOSE 8080
# dialhook handles SIGTERM itself: it stops taking webhooks and finishes calls in flight.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/dialhook"]
CMD ["serve"]
