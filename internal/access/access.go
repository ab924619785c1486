// Package access holds the rule both the admin API and the console apply
// to a client when no admin token is set: loopback clients only, where a
// request that came through a proxy or tunnel is not one. It also reads
// an "Authorization: Bearer" header.
//
// It must not import Echo or anything of dialhook: handlers and console
// both use it, and neither may import the other.
package access

import (
	"net"
	"net/http"
	"strings"
)

// Bearer returns the credentials of an "Authorization: Bearer ..." header;
// the scheme is case-insensitive (RFC 9110, section 11.1).
func Bearer(h string) (string, bool) {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(cred), true
}

// forwardingHeaders are set by proxies and tunnels. A tunnel such as ngrok
// or a reverse proxy on the same host connects from loopback: a request
// carrying any of these came from somewhere else, whatever its peer address.
var forwardingHeaders = [...]string{
	"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-Server",
	"X-Original-Forwarded-For", "Forwarded", "X-Real-Ip", "X-Client-Ip", "True-Client-Ip", "Cf-Connecting-Ip",
	"Fastly-Client-Ip", "X-Cluster-Client-Ip", "Via",
}

// Forwarded reports whether r carries a header a proxy or tunnel adds
// (ngrok's own included).
func Forwarded(r *http.Request) bool {
	for _, h := range forwardingHeaders {
		if _, ok := r.Header[h]; ok {
			return true
		}
	}
	for name := range r.Header {
		if lower := strings.ToLower(name); strings.HasPrefix(lower, "ngrok-") || strings.HasPrefix(lower, "x-ngrok") {
			return true
		}
	}
	return false
}

// Loopback reports whether r came straight from this host: a loopback
// peer address and no header a proxy or tunnel adds. trust_proxy does not
// change this: it only says how to rebuild a signed URL.
func Loopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return false
	}
	return !Forwarded(r)
}
