package crm

import "errors"

// Sentinels the handler maps to HTTP answers with errors.Is.
var (
	// ErrUnauthenticated: the request did not prove it comes from the CRM (401).
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrMalformed: the body or headers are not in the kind's shape (400).
	ErrMalformed = errors.New("malformed request")
	// ErrUnprocessable: well-formed, but the event cannot be used (422).
	ErrUnprocessable = errors.New("unprocessable request")
)

// AuthError says why authentication failed, in a few words fit for logs. It
// never carries the expected value or the received signature.
type AuthError struct {
	Reason string // e.g. "bad signature", "stale timestamp", "missing header"
}

func (e *AuthError) Error() string { return "unauthenticated: " + e.Reason }

// Unwrap makes errors.Is(err, ErrUnauthenticated) hold.
func (e *AuthError) Unwrap() error { return ErrUnauthenticated }

// MalformedError says what is wrong with the request's shape.
type MalformedError struct {
	Msg string
}

func (e *MalformedError) Error() string { return "malformed request: " + e.Msg }

// Unwrap makes errors.Is(err, ErrMalformed) hold.
func (e *MalformedError) Unwrap() error { return ErrMalformed }

// UnprocessableError says why a well-formed event cannot be used.
type UnprocessableError struct {
	Msg string
}

func (e *UnprocessableError) Error() string { return "unprocessable request: " + e.Msg }

// Unwrap makes errors.Is(err, ErrUnprocessable) hold.
func (e *UnprocessableError) Unwrap() error { return ErrUnprocessable }

func authErr(reason string) error    { return &AuthError{Reason: reason} }
func malformed(msg string) error     { return &MalformedError{Msg: msg} }
func unprocessable(msg string) error { return &UnprocessableError{Msg: msg} }
