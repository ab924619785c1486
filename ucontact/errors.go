package ucontact

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// The outcomes of AgentCall and Login other than success. Every error the
// package returns wraps exactly one of these, so callers branch with
// errors.Is, and Retryable and Classify give the retry decision and a
// metrics label. The messages carry no package prefix because the returned
// errors always add "ucontact: <operation>: " in front.
var (
	// ErrRejected: uContact answered "0", its documented error for a call it
	// did not place (bad parameters, unknown agent or campaign, ...). Not
	// retryable: the same request gets the same answer.
	ErrRejected = errors.New(`call rejected by uContact (answer "0")`)

	// ErrUnexpectedAnswer: an answer that is neither a GUID nor "0", or an
	// HTTP status with no specific meaning here (3xx, most 4xx). Not
	// retryable: a 2xx answer may mean the call was placed. The error also
	// matches *UnexpectedAnswerError, which holds the status and the start of
	// the body.
	ErrUnexpectedAnswer = errors.New("unexpected answer")

	// ErrUnauthorized: HTTP 401 or 403. The call was not placed. A client
	// that logs in itself has already logged in again once and retried.
	ErrUnauthorized = errors.New("unauthorized")

	// ErrUnavailable: HTTP 408, 429 or 5xx, or (for a login) no answer to
	// getUserToken. The call was not placed, so a retry is safe; the error
	// matches *StatusError, whose RetryAfter holds the server's Retry-After.
	ErrUnavailable = errors.New("service unavailable")

	// ErrConnect: the request never left this process (DNS, dial, TLS
	// handshake, context ended before sending). A retry is safe.
	ErrConnect = errors.New("request not sent")

	// ErrOutcomeUnknown: the request was sent (or may have been) and no
	// answer came back (timeout, reset, EOF, context ended). The call may
	// have been placed: do NOT retry, or the customer may be rung twice.
	ErrOutcomeUnknown = errors.New("outcome unknown (request may have been sent; do not retry)")

	// ErrLoginFailed: getUserToken rejected the user and password.
	ErrLoginFailed = errors.New("login failed: bad user or password")
)

// maxBodyInError bounds UnexpectedAnswerError.Body.
const maxBodyInError = 200

// UnexpectedAnswerError is an answer the package cannot interpret. It
// matches ErrUnexpectedAnswer with errors.Is.
type UnexpectedAnswerError struct {
	Status int    // HTTP status of the answer
	Body   string // at most the first 200 bytes of the body, credentials redacted
}

func (e *UnexpectedAnswerError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %q", ErrUnexpectedAnswer, e.Status, e.Body)
}

// Is reports whether target is ErrUnexpectedAnswer.
func (e *UnexpectedAnswerError) Is(target error) bool { return target == ErrUnexpectedAnswer }

// StatusError is an HTTP status that says what happened without a body to
// interpret: 401/403 match ErrUnauthorized, 408/429/5xx match ErrUnavailable.
type StatusError struct {
	Status     int
	RetryAfter time.Duration // from the Retry-After header; 0 when absent
}

func (e *StatusError) Error() string {
	kind := "HTTP status"
	switch {
	case isUnauthorizedStatus(e.Status):
		kind = ErrUnauthorized.Error()
	case isUnavailableStatus(e.Status):
		kind = ErrUnavailable.Error()
	}
	if e.RetryAfter > 0 {
		return fmt.Sprintf("%s (HTTP %d, retry after %s)", kind, e.Status, e.RetryAfter)
	}
	return fmt.Sprintf("%s (HTTP %d)", kind, e.Status)
}

// Is matches ErrUnauthorized or ErrUnavailable according to Status, so a
// bare &StatusError{Status: 503} (in a test double, say) classifies the
// same way as one returned by the Client.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return isUnauthorizedStatus(e.Status)
	case ErrUnavailable:
		return isUnavailableStatus(e.Status)
	}
	return false
}

func isUnauthorizedStatus(s int) bool {
	return s == http.StatusUnauthorized || s == http.StatusForbidden
}

func isUnavailableStatus(s int) bool {
	return s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || (s >= 500 && s <= 599)
}

// Retryable reports whether repeating the operation that returned err is
// safe: true only for ErrUnavailable and ErrConnect, never for an outcome
// that may have placed the call.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, ErrOutcomeUnknown) {
		return false
	}
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrConnect)
}

// Classify returns a short, stable kind for logs and metrics labels: "ok",
// "rejected", "unexpected", "unauthorized", "unavailable", "connect",
// "unknown", "login_failed", "no_resource", or "error" for anything else.
func Classify(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrOutcomeUnknown): // first: it decides "do not retry"
		return "unknown"
	case errors.Is(err, ErrLoginFailed):
		return "login_failed"
	case errors.Is(err, ErrRejected):
		return "rejected"
	case errors.Is(err, ErrUnexpectedAnswer):
		return "unexpected"
	case errors.Is(err, ErrUnauthorized):
		return "unauthorized"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.Is(err, ErrConnect):
		return "connect"
	case errors.Is(err, ErrNoResource):
		return "no_resource"
	}
	return "error"
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP-date.
// It returns 0 for an absent, malformed or past value.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		const maxSecs = int64(1<<63-1) / int64(time.Second)
		return time.Duration(min(secs, maxSecs)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// truncateUTF8 cuts s to at most n bytes without splitting a UTF-8 sequence
// (invalid bytes are kept as they are; %q escapes them when printed).
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	// Step back over continuation bytes of a sequence the cut would split.
	for i := 0; i < utf8.UTFMax && cut > 0 && !utf8.RuneStart(s[cut]); i++ {
		cut--
	}
	if !utf8.RuneStart(s[cut]) { // not a valid sequence anyway: cut at n
		cut = n
	}
	return s[:cut]
}
