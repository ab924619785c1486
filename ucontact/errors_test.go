package ucontact

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"
	"unicode/utf8"
)

func TestRetryableAndClassify(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("ucontact: agentcall: %w", err) }
	tests := []struct {
		err       error
		retryable bool
		class     string
	}{
		{nil, false, "ok"},
		{wrap(ErrRejected), false, "rejected"},
		{wrap(&UnexpectedAnswerError{Status: 200, Body: "x"}), false, "unexpected"},
		{wrap(&StatusError{Status: 401}), false, "unauthorized"},
		{wrap(&StatusError{Status: 403}), false, "unauthorized"},
		{wrap(&StatusError{Status: 408}), true, "unavailable"},
		{wrap(&StatusError{Status: 429, RetryAfter: time.Second}), true, "unavailable"},
		{wrap(&StatusError{Status: 502}), true, "unavailable"},
		{&StatusError{Status: 418}, false, "error"},
		{wrap(fmt.Errorf("%w: %w", ErrConnect, context.Canceled)), true, "connect"},
		{wrap(fmt.Errorf("%w: %w", ErrOutcomeUnknown, context.DeadlineExceeded)), false, "unknown"},
		// A chain that somehow holds both must never be retried.
		{fmt.Errorf("%w: %w", ErrOutcomeUnknown, ErrUnavailable), false, "unknown"},
		{wrap(fmt.Errorf("login: %w", ErrLoginFailed)), false, "login_failed"},
		{errors.New("boom"), false, "error"},
		{context.Canceled, false, "error"},
	}
	for _, tt := range tests {
		name := "nil"
		if tt.err != nil {
			name = tt.err.Error()
		}
		t.Run(name, func(t *testing.T) {
			if got := Retryable(tt.err); got != tt.retryable {
				t.Errorf("Retryable = %v, want %v", got, tt.retryable)
			}
			if got := Classify(tt.err); got != tt.class {
				t.Errorf("Classify = %q, want %q", got, tt.class)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&StatusError{Status: 503, RetryAfter: 2 * time.Second}, "service unavailable (HTTP 503, retry after 2s)"},
		{&StatusError{Status: 401}, "unauthorized (HTTP 401)"},
		{&StatusError{Status: 418}, "HTTP status (HTTP 418)"},
		{&UnexpectedAnswerError{Status: 200, Body: "a\nb"}, `unexpected answer (HTTP 200): "a\nb"`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{"120", 2 * time.Minute},
		{"99999999999999999", time.Duration(int64(1<<63-1) / int64(time.Second) * int64(time.Second))},
		{"soon", 0},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"Sun, 01 Mar 2026 12:01:00 GMT", time.Minute},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestTruncateUTF8(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abcdef", 3, "abc"},
		{"añb", 2, "a"}, // ñ is 2 bytes: not split
		{"a€", 3, "a"},  // € is 3 bytes
		{"\x80\x80\x80\x80\x80\x80", 5, "\x80\x80\x80\x80\x80"},
	}
	for _, tt := range tests {
		got := truncateUTF8(tt.in, tt.n)
		if got != tt.want {
			t.Errorf("truncateUTF8(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
		if utf8.ValidString(tt.in) && !utf8.ValidString(got) {
			t.Errorf("truncateUTF8(%q, %d) = %q: invalid UTF-8", tt.in, tt.n, got)
		}
	}
}
