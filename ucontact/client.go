// Package ucontact is the client for uContact's AgentCall API: it asks
// uContact to ring an agent and, once the agent answers, dial the customer
// (AgentCall, or AgentCallwithData with data for the agent's screen), or
// to queue a lead in its dialer for any free agent (DialerTask).
//
// It is the only code in dialhook that knows these wire formats
// (endpoints, form fields, Basic token, the GUID-or-"0" answer) and the
// getUserToken login. It places calls and nothing else: no retries, no
// queuing, no logging. Instead every failure is a typed error (see
// errors.go) that says whether repeating the call is safe; Retryable and
// Classify turn that into a decision and a metrics label. The one retry it
// does itself is after a 401 when it logged in on its own: a 401 means the
// call was not placed.
//
// It must not import any dialhook package, log, or retry on its own beyond
// that login.
package ucontact

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

const (
	agentCallPath = "/Integra/resources/Agents/AgentCall"
	loginPath     = "/Integra/resources/auth/getUserToken"

	// DefaultTimeout bounds a whole request (connect, send, answer) when
	// Config.Timeout is zero.
	DefaultTimeout = 15 * time.Second

	// maxAnswer bounds how much of any answer body is read.
	maxAnswer = 64 << 10

	defaultTech = "SIP"
	userAgent   = "dialhook-ucontact/1"
)

// Config configures a Client. Set BaseURL and either Token or User and
// Password; Token wins when both are set.
type Config struct {
	// BaseURL is the instance's address, e.g. https://acme.ucontactcloud.com
	// (see BaseURLForInstance). A trailing slash is ignored.
	BaseURL string

	// Token is a token issued by uContact, sent as "Authorization: Basic
	// {Token}". With a static token a 401 is returned as ErrUnauthorized.
	Token string

	// User and Password let the client obtain a token itself through
	// getUserToken, on first use and once more after a 401.
	User, Password string

	// Timeout bounds each HTTP request as a whole; DefaultTimeout when zero.
	Timeout time.Duration

	// HTTPClient is optional. The Client never follows redirects (a
	// redirected POST could be replayed), even with a caller's HTTPClient,
	// and applies Timeout through the request context as well.
	HTTPClient *http.Client
}

// Client calls uContact. It is safe for concurrent use.
type Client struct {
	base     string // scheme://host[/path], no trailing slash
	hc       *http.Client
	timeout  time.Duration
	static   string // Config.Token; "" when the client logs in itself
	user     string
	password string

	mu     sync.Mutex
	token  string       // token from the last successful login
	gen    uint64       // incremented at every successful login
	flight *loginFlight // login in progress, shared by all waiters
}

// loginFlight is one getUserToken round trip that any number of callers
// wait for; its fields are set before done is closed.
type loginFlight struct {
	done  chan struct{}
	token string
	gen   uint64
	err   error
}

// BaseURLForInstance returns the base URL of a uContact cloud instance:
// "https://{instance}.ucontactcloud.com".
func BaseURLForInstance(instance string) string {
	return "https://" + strings.TrimSpace(instance) + ".ucontactcloud.com"
}

// New returns a Client for cfg. It fails when BaseURL is empty or not an
// absolute http(s) URL, or when there is neither a Token nor both User and
// Password. Error messages never contain the credentials.
func New(cfg Config) (*Client, error) {
	base, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{base: base, timeout: cfg.Timeout}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}

	switch tok := strings.TrimSpace(cfg.Token); {
	case tok != "":
		if !validToken(tok) {
			return nil, errors.New("ucontact: config: Token contains spaces or control characters")
		}
		c.static = tok
	case cfg.User != "" && cfg.Password != "":
		c.user, c.password = cfg.User, cfg.Password
	default:
		return nil, errors.New("ucontact: config: set Token, or both User and Password")
	}

	if cfg.HTTPClient != nil {
		hc := *cfg.HTTPClient // shallow copy: shares the caller's Transport
		c.hc = &hc
	} else {
		c.hc = &http.Client{Transport: newTransport(), Timeout: c.timeout}
	}
	c.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c, nil
}

func parseBaseURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errors.New("ucontact: config: BaseURL is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the input, which might hold credentials.
		return "", errors.New("ucontact: config: BaseURL is not a valid URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errors.New("ucontact: config: BaseURL must start with https:// or http://")
	case u.Host == "":
		return "", errors.New("ucontact: config: BaseURL has no host")
	case u.User != nil:
		return "", errors.New("ucontact: config: BaseURL must not contain credentials; use Token or User and Password")
	case u.RawQuery != "" || u.Fragment != "":
		return "", errors.New("ucontact: config: BaseURL must not have a query or fragment")
	}
	return strings.TrimSuffix(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

// validToken reports whether tok can be sent as a header value as is.
func validToken(tok string) bool {
	for i := 0; i < len(tok); i++ {
		if b := tok[i]; b <= ' ' || b == 0x7f {
			return false
		}
	}
	return true
}

func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 128
	t.MaxIdleConnsPerHost = 64
	// Shorter than common server keep-alive timeouts (Tomcat's default is
	// 20s): a POST written to a connection the server is closing ends as
	// ErrOutcomeUnknown, which this makes rare.
	t.IdleConnTimeout = 15 * time.Second
	return t
}

// AgentCall asks uContact to ring p.Agent at p.Phone and then dial
// p.Destination, and returns the call's GUID. Tech defaults to "SIP".
//
// On failure the error wraps one of ErrRejected, ErrUnexpectedAnswer,
// ErrUnauthorized, ErrUnavailable, ErrConnect, ErrOutcomeUnknown or
// ErrLoginFailed; only ErrUnavailable and ErrConnect are safe to retry
// (see Retryable).
func (c *Client) AgentCall(ctx context.Context, p Params) (uuid.UUID, error) {
	return c.agentCall(ctx, "agentcall", agentCallPath, p, "")
}

// agentCall is AgentCall, or AgentCallwithData when data is not empty.
func (c *Client) agentCall(ctx context.Context, op, path string, p Params, data string) (uuid.UUID, error) {
	if p.Tech == "" { // p is a copy: the caller's struct is untouched
		p.Tech = defaultTech
	}
	form := p.Form()
	if data != "" {
		form.Set("data", data)
	}
	body, tok, err := c.exchange(ctx, op, path, form.Encode())
	if err != nil {
		return uuid.Nil, err
	}
	id, err := parseAnswer(http.StatusOK, body, c.secrets(tok)...)
	if err != nil {
		return uuid.Nil, fmt.Errorf("ucontact: %s: %w", op, err)
	}
	return id, nil
}

// exchange posts a form that asks uContact to place a call and returns
// the body of its 2xx answer, and the token sent. When the client logs in
// itself, a 401 (the call was not placed) logs in again, once, shared with
// concurrent callers, and sends the form once more. Errors are prefixed
// "ucontact: op: ".
func (c *Client) exchange(ctx context.Context, op, path, form string) ([]byte, string, error) {
	tok, gen, err := c.session(ctx, false, 0)
	if err != nil {
		return nil, "", fmt.Errorf("ucontact: %s: %w", op, err)
	}
	body, err := c.send(ctx, op, path, tok, form)
	if err == nil || c.static != "" || !isStatus(err, http.StatusUnauthorized) {
		return body, tok, err
	}
	if tok, _, err = c.session(ctx, true, gen); err != nil {
		return nil, "", fmt.Errorf("ucontact: %s: after 401: %w", op, err)
	}
	body, err = c.send(ctx, op, path, tok, form)
	return body, tok, err
}

// send posts form once; see exchange.
func (c *Client) send(ctx context.Context, op, path, tok, form string) ([]byte, error) {
	ans, err := c.post(ctx, path, form, tok)
	if err != nil {
		// Not sent: ErrConnect. Sent without a complete answer: the call
		// may have been placed.
		return nil, fmt.Errorf("ucontact: %s: %w", op, err.classify(ErrOutcomeUnknown))
	}
	switch s := ans.status; {
	case s >= 200 && s <= 299:
		return ans.body, nil
	case isUnauthorizedStatus(s) || isUnavailableStatus(s):
		return nil, fmt.Errorf("ucontact: %s: %w", op, ans.statusError())
	default:
		return nil, fmt.Errorf("ucontact: %s: %w", op, unexpected(s, ans.body, c.secrets(tok)...))
	}
}

func isStatus(err error, status int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == status
}

// Login obtains a token through getUserToken and keeps it for AgentCall.
// AgentCall logs in by itself when needed; call Login to check the
// credentials early. With a static Config.Token it does nothing. Concurrent
// callers share one login.
func (c *Client) Login(ctx context.Context) error {
	if c.static != "" {
		return nil
	}
	if _, _, err := c.session(ctx, true, 0); err != nil {
		return fmt.Errorf("ucontact: %w", err)
	}
	return nil
}

// session returns the token to send and the login generation it came from.
// With force it logs in again unless a login newer than stale has already
// succeeded (stale 0 with force: always log in; an in-flight login counts).
// Errors are prefixed "login: ".
func (c *Client) session(ctx context.Context, force bool, stale uint64) (string, uint64, error) {
	if c.static != "" {
		return c.static, 0, nil
	}
	c.mu.Lock()
	if c.token != "" && !(force && (stale == 0 || c.gen == stale)) {
		tok, gen := c.token, c.gen
		c.mu.Unlock()
		return tok, gen, nil
	}
	f := c.flight
	if f == nil {
		f = &loginFlight{done: make(chan struct{})}
		c.flight = f
		c.token = "" // refused or about to be replaced: nobody should use it
		// Detached from ctx so that one caller giving up does not fail the
		// login for the others; c.login bounds it with c.timeout.
		go c.runLogin(context.WithoutCancel(ctx), f)
	}
	c.mu.Unlock()

	select {
	case <-f.done:
		return f.token, f.gen, f.err
	case <-ctx.Done():
		return "", 0, fmt.Errorf("login: %w: %w", ErrConnect, ctx.Err())
	}
}

func (c *Client) runLogin(ctx context.Context, f *loginFlight) {
	tok, err := c.login(ctx)
	c.mu.Lock()
	if err == nil {
		c.gen++
		c.token = tok
		f.token, f.gen = tok, c.gen
	}
	f.err = err
	c.flight = nil
	c.mu.Unlock()
	close(f.done)
}

// login posts the credentials to getUserToken. Nothing of an AgentCall has
// been sent yet and a login is safe to repeat, so every transport failure
// is retryable: ErrConnect when nothing was sent, ErrUnavailable otherwise.
func (c *Client) login(ctx context.Context) (string, error) {
	form := url.Values{"user": {c.user}, "password": {c.password}}
	ans, err := c.post(ctx, loginPath, form.Encode(), "")
	if err != nil {
		return "", fmt.Errorf("login: %w", err.classify(ErrUnavailable))
	}
	switch s := ans.status; {
	case s >= 200 && s <= 299:
		tok, err := parseLoginAnswer(s, ans.body, c.password)
		if err != nil {
			return "", fmt.Errorf("login: %w", err)
		}
		return tok, nil
	case isUnauthorizedStatus(s):
		return "", fmt.Errorf("login: %w (HTTP %d)", ErrLoginFailed, s)
	case isUnavailableStatus(s):
		return "", fmt.Errorf("login: %w", ans.statusError())
	default:
		return "", fmt.Errorf("login: %w", unexpected(s, ans.body, c.password))
	}
}

// secrets lists what must never appear in an error: the token in use and
// the password.
func (c *Client) secrets(tok string) []string {
	return []string{tok, c.password}
}

// answer is a complete HTTP answer (body capped at maxAnswer).
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) statusError() *StatusError {
	return &StatusError{Status: a.status, RetryAfter: parseRetryAfter(a.header.Get("Retry-After"), time.Now())}
}

// sendError is a request that got no complete answer.
type sendError struct {
	sent   bool  // the request may have reached the server
	status int   // non-zero when an answer began but its body was cut short
	cause  error // context error, or the transport's error
}

// classify wraps the failure as ErrConnect when the request was certainly
// not sent, else as ifSent.
func (e *sendError) classify(ifSent error) error {
	switch {
	case !e.sent:
		return fmt.Errorf("%w: %w", ErrConnect, e.cause)
	case e.status != 0:
		return fmt.Errorf("%w: HTTP %d answer cut short: %w", ifSent, e.status, e.cause)
	default:
		return fmt.Errorf("%w: %w", ifSent, e.cause)
	}
}

// post sends a form and reads the answer, or reports why there is no
// complete answer. Only a 2xx body that cannot be read counts as no answer:
// other statuses mean what they say without their body. Errors never
// contain the URL or any header.
func (c *Client) post(ctx context.Context, path, form, tok string) (answer, *sendError) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	var tr sendTrace
	ctx = httptrace.WithClientTrace(ctx, tr.hooks())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, strings.NewReader(form))
	if err != nil {
		return answer{}, &sendError{cause: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", userAgent)
	if tok != "" {
		req.Header.Set("Authorization", "Basic "+tok)
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return answer{}, &sendError{sent: tr.mayHaveSent(), cause: transportCause(ctx, err)}
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil && resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return answer{}, &sendError{sent: true, status: resp.StatusCode, cause: transportCause(ctx, err)}
	}
	// Drain a little more so that the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	return answer{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// transportCause returns the most telling cause of a transport error: the
// context's error when it ended, else err without *url.Error's "Post URL:"
// wrapping.
func transportCause(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// sendTrace records, through httptrace, whether the request may have
// reached the server. The hooks run on transport goroutines.
type sendTrace struct {
	gotConn     atomic.Bool
	writeFailed atomic.Bool
}

func (t *sendTrace) hooks() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { t.gotConn.Store(true) },
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err != nil {
				t.writeFailed.Store(true)
			}
		},
	}
}

// mayHaveSent reports whether the server may have received the whole
// request. Without a connection nothing was sent (DNS, dial and TLS
// failures come before GotConn). A write that failed left the server an
// incomplete request it cannot act on. A connection with no write reported
// yet may be mid-write, so it counts as sent.
func (t *sendTrace) mayHaveSent() bool {
	return t.gotConn.Load() && !t.writeFailed.Load()
}
