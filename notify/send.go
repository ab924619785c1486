package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

// Endpoint is one receiver of notifications, as the notify: list
// configures it.
type Endpoint struct {
	Name    string
	URL     string
	Secret  []byte   // ParseSecret's key
	Types   []Type   // the types it receives; empty: all
	Sources []string // the sources whose events it hears of; empty: all
}

// Wants reports whether ep receives a message of type t about an event of
// the source named source.
func Wants(ep Endpoint, t Type, source string) bool {
	return (len(ep.Types) == 0 || slices.Contains(ep.Types, t)) &&
		(len(ep.Sources) == 0 || slices.Contains(ep.Sources, source))
}

// Fingerprint changes whenever ep's configuration does (name, URL, secret,
// types, sources), and only then: a 410 disables an endpoint until its
// configuration changes, so the caller records the fingerprint it
// disabled. A truncated SHA-256: it reveals nothing of the secret.
func (ep Endpoint) Fingerprint() string {
	h := sha256.New()
	field := func(s string) {
		h.Write(strconv.AppendInt(nil, int64(len(s)), 10))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	field(ep.Name)
	field(ep.URL)
	field(string(ep.Secret))
	for _, t := range ep.Types {
		field(string(t))
	}
	h.Write([]byte{'|'})
	for _, s := range ep.Sources {
		field(s)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// Outcome is what to do after an attempt.
type Outcome string

const (
	// Delivered: the endpoint answered 2xx; the message is done.
	Delivered Outcome = "delivered"
	// Disable: the endpoint answered 410 Gone, which the spec reads as
	// "send me nothing more"; stop sending it anything until its
	// configuration changes.
	Disable Outcome = "disable"
	// Retry: anything else. No answer (refused, reset, DNS, TLS, timeout)
	// and every other status: 3xx (redirects are not followed, as the spec
	// advises), 408, 429 and 5xx, and the other 4xx too. The spec treats
	// them all as failures to retry; a 401 or 404 is most often a receiver
	// being set up or redeployed, fixed within the retry window, and
	// giving up at once would lose the notification. NextRetry bounds how
	// long.
	Retry Outcome = "retry"
	// Failed: the receiver refused for a reason retrying cannot cure (a CRM
	// write-back whose token was refused): given up at once. Send never
	// answers it; write-back hooks do.
	Failed Outcome = "failed"
)

// Attempt is one try at delivering one message to one endpoint, as the
// caller records it on the event. Nothing in it holds the secret, the
// signature or the URL (which may carry a token).
type Attempt struct {
	At      time.Time     // the attempt's webhook-timestamp
	Status  int           // the HTTP status; 0 when none came
	Latency time.Duration // from sending to the answer's headers (or the error)
	Error   string        // why it was not delivered, at most MaxErrorText bytes; "" when delivered
	Outcome Outcome
	// RetryAfter is the answer's Retry-After (429, 503…), at most
	// MaxDelay: the caller waits at least this long, whatever NextRetry
	// says. 0 when there is none.
	RetryAfter time.Duration
}

// Limits of what an attempt reads and keeps.
const (
	// DefaultTimeout bounds an attempt when Sender.Client is nil: the low
	// end of the spec's recommended 15 to 30 s.
	DefaultTimeout = 15 * time.Second
	// MaxAnswerRead is how much of an answer's body is read (its start
	// goes into Error); the rest is dropped with the connection.
	MaxAnswerRead = 4 << 10
	// MaxErrorText bounds Attempt.Error.
	MaxErrorText = 256
)

// Sender delivers messages, one attempt per Send. Its zero value works.
type Sender struct {
	// Client sends the requests (its Timeout bounds an attempt); nil: a
	// client with DefaultTimeout. Redirects are never followed, whatever
	// its CheckRedirect says.
	Client *http.Client
	// UserAgent is sent as User-Agent; "" sends "dialhook".
	UserAgent string
}

// Send makes one attempt at delivering m to ep: it POSTs Body(m) with the
// webhook-* headers, signed with ep.Secret at now (the attempt's
// timestamp), and says what came of it. A canceled ctx (shutdown) gives a
// Retry whose Error is "canceled": the message was not delivered.
func (s Sender) Send(ctx context.Context, ep Endpoint, m Message, now time.Time) Attempt {
	a := Attempt{At: now, Outcome: Retry}
	body := Body(m)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		// Its text quotes the URL; config has refused such a URL already.
		a.Error = "the url cannot be requested"
		return a
	}
	ua := s.UserAgent
	if ua == "" {
		ua = "dialhook"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", ua)
	req.Header.Set(HeaderID, m.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(ep.Secret, m.ID, now, body))

	start := time.Now()
	resp, err := s.client().Do(req)
	a.Latency = time.Since(start)
	if err != nil {
		a.Error = transportError(ctx, err)
		return a
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerRead))
	a.Status = resp.StatusCode
	a.Outcome, a.Error = judge(resp.StatusCode, answer)
	if a.Outcome != Delivered {
		a.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), now)
	}
	return a
}

// client is s.Client, or a default one, made not to follow redirects.
func (s Sender) client() *http.Client {
	c := http.Client{Timeout: DefaultTimeout}
	if s.Client != nil {
		c = *s.Client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// judge turns an answer into an outcome and, unless delivered, an error
// that shows the status and the start of the answer.
func judge(status int, answer []byte) (Outcome, string) {
	var o Outcome
	var why string
	switch {
	case status >= 200 && status <= 299:
		return Delivered, ""
	case status == http.StatusGone:
		o, why = Disable, "the endpoint asks for no more notifications; it is disabled until its configuration changes"
	case status >= 300 && status <= 399:
		o, why = Retry, "redirects are not followed; set the url to the final address"
	default:
		o, why = Retry, ""
	}
	msg := "HTTP " + strconv.Itoa(status)
	if text := http.StatusText(status); text != "" {
		msg += " " + text
	}
	if why != "" {
		msg += ": " + why
	}
	if a := oneLine(string(answer)); a != "" {
		msg += ": " + a
	}
	return o, bound(msg)
}

// transportError says why no answer came, without the URL that
// *url.Error quotes (it may hold a token).
func transportError(ctx context.Context, err error) string {
	var netErr net.Error
	var dnsErr *net.DNSError
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout: no answer in time"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &dnsErr):
		return "DNS: " + bound(dnsErr.Err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return bound(oneLine(err.Error()))
}

// retryAfter reads a Retry-After header, in seconds or as an HTTP date,
// capped at MaxDelay; 0 when absent, unreadable or past.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(n, int64(MaxDelay/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), MaxDelay)
}

// oneLine folds whitespace and control characters into single spaces and
// drops invalid UTF-8, so that an answer reads as one log-safe line.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "")
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
}

// bound cuts s to MaxErrorText bytes on a character boundary, marking the
// cut with "…".
func bound(s string) string {
	if len(s) <= MaxErrorText {
		return s
	}
	cut := MaxErrorText - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
