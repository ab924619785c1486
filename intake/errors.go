package intake

import (
	"errors"
	"strings"

	"dialhook/crm"
)

// Kind says what went wrong with a request, for the handler to answer.
type Kind int

// The kinds of Error.
const (
	Unauthorized     Kind = iota + 1 // the request did not prove where it comes from
	Malformed                        // the body is not in the kind's shape
	Unprocessable                    // well-formed, but no event can be made of it
	StoreUnavailable                 // the store did not answer in time
	StoreFull                        // the store is out of memory
	QueueFull                        // the backlog is over queue_max
	StoreFailed                      // the store answered with an error that retrying will not cure
)

// Error is a request intake could not take. Msg is safe to show to the
// sender; Reason (authentication failures: "bad signature", "stale
// timestamp", …) is safe to log; Err is the cause, for the log only.
type Error struct {
	Kind   Kind
	Msg    string
	Reason string
	Scheme string // Unauthorized: how the request was to prove itself
	Err    error
}

// Error is Msg, followed by the cause unless Msg already says it (a
// malformed body's Msg is its cause's text: said twice, it reads as two
// errors).
func (e *Error) Error() string {
	if e.Err == nil {
		return e.Msg
	}
	cause := e.Err.Error()
	if e.Msg == "" {
		return cause
	}
	if strings.Contains(e.Msg, cause) {
		return e.Msg
	}
	return e.Msg + ": " + cause
}

func (e *Error) Unwrap() error { return e.Err }

// adapterError turns an adapter's error into an *Error, never carrying a
// secret: an AuthError says only which check failed, and the scheme how.
func adapterError(src *Source, req *crm.Request, err error) error {
	var ae *crm.AuthError
	switch {
	case errors.As(err, &ae):
		return &Error{Kind: Unauthorized, Msg: "authentication failed", Reason: ae.Reason, Scheme: src.Adapter.Scheme(req),
			Err: errors.New(ae.Reason)}
	case errors.Is(err, crm.ErrUnauthenticated):
		return &Error{Kind: Unauthorized, Msg: "authentication failed", Reason: "unauthenticated", Scheme: src.Adapter.Scheme(req),
			Err: errors.New("unauthenticated")}
	case errors.Is(err, crm.ErrMalformed):
		return &Error{Kind: Malformed, Msg: err.Error(), Err: err}
	case errors.Is(err, crm.ErrUnprocessable):
		return &Error{Kind: Unprocessable, Msg: err.Error(), Err: err}
	}
	return err
}
