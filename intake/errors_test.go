package intake

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"dialhook/crm"
)

// An error's text says its cause once: a malformed body's message is the
// cause's own text, and repeating it read as two errors.
func TestErrorSaysItsCauseOnce(t *testing.T) {
	cause := fmt.Errorf("%w: the body is not valid JSON: unexpected end of JSON input (at byte 5 of 5)", crm.ErrMalformed)
	err := adapterError(nil, nil, cause)
	var ie *Error
	if !errors.As(err, &ie) || ie.Kind != Malformed {
		t.Fatalf("adapterError = %#v", err)
	}
	if got := err.Error(); got != cause.Error() {
		t.Errorf("Error() = %q, want %q", got, cause.Error())
	}
	if n := strings.Count(err.Error(), "unexpected end of JSON input"); n != 1 {
		t.Errorf("the cause appears %d times in %q", n, err.Error())
	}
	if !errors.Is(err, crm.ErrMalformed) {
		t.Error("the cause is no longer wrapped")
	}
	for _, c := range []struct {
		e    *Error
		want string
	}{
		{&Error{Msg: "authentication failed", Err: errors.New("bad signature")}, "authentication failed: bad signature"},
		{&Error{Msg: "store unavailable"}, "store unavailable"},
		{&Error{Err: errors.New("timeout")}, "timeout"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
	}
}
