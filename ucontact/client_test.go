package ucontact_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"dialhook/ucontact"
)

const (
	testToken = "dGVzdHVzZXI6c2VjcmV0LXRva2Vu" // base64("testuser:secret-token")
	testGUID  = "8cf8570e-60e7-44ed-b799-3baab211b04d"
	agentPath = "/Integra/resources/Agents/AgentCall"
	loginPath = "/Integra/resources/auth/getUserToken"
)

func testParams() ucontact.Params {
	return ucontact.Params{
		CallerID:    "24001234",
		Agent:       "maria",
		Phone:       "1001",
		Tech:        "SIP",
		Context:     "agentes",
		OutQueue:    "Ventas->",
		Destination: "099123456",
	}
}

func newServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

func newClient(t *testing.T, cfg ucontact.Config) *ucontact.Client {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	c, err := ucontact.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// checkErr asserts what every error from the package must satisfy.
func checkErr(t *testing.T, err error, want error, retryable bool, class string, secrets ...string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want errors.Is %v", err, want)
	}
	if got := ucontact.Retryable(err); got != retryable {
		t.Errorf("Retryable(%v) = %v, want %v", err, got, retryable)
	}
	if got := ucontact.Classify(err); got != class {
		t.Errorf("Classify(%v) = %q, want %q", err, got, class)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "ucontact: ") {
		t.Errorf("error %q lacks the ucontact: prefix", msg)
	}
	for _, s := range append(secrets, testToken, "Authorization", "Basic ") {
		if strings.Contains(msg, s) {
			t.Errorf("error %q contains %q", msg, s)
		}
	}
}

func TestAgentCallAnswers(t *testing.T) {
	future := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		want      error // nil: success with testGUID
		retryable bool
		class     string
		check     func(t *testing.T, err error)
	}{
		{name: "guid", status: 200, body: testGUID, class: "ok"},
		{name: "guid with blanks", status: 200, body: " \r\n\t" + testGUID + "\r\n\n", class: "ok"},
		{name: "guid quoted", status: 200, body: `"` + testGUID + `"` + "\n", class: "ok"},
		{name: "guid with 201", status: 201, body: testGUID, class: "ok"},
		{name: "zero", status: 200, body: "0", want: ucontact.ErrRejected, class: "rejected"},
		{name: "zero with newline", status: 200, body: "0\r\n", want: ucontact.ErrRejected, class: "rejected"},
		{
			name: "unexpected body", status: 200, body: "<html>oops</html>",
			want: ucontact.ErrUnexpectedAnswer, class: "unexpected",
			check: wantUnexpected(200, "<html>oops</html>"),
		},
		{
			name: "empty body", status: 200, body: "",
			want: ucontact.ErrUnexpectedAnswer, class: "unexpected", check: wantUnexpected(200, ""),
		},
		{
			name: "nil guid", status: 200, body: uuid.Nil.String(),
			want: ucontact.ErrUnexpectedAnswer, class: "unexpected",
		},
		{
			name: "long body echoing the token", status: 200,
			body: "your token " + testToken + " " + strings.Repeat("x", 1000),
			want: ucontact.ErrUnexpectedAnswer, class: "unexpected",
			check: func(t *testing.T, err error) {
				var ue *ucontact.UnexpectedAnswerError
				if !errors.As(err, &ue) {
					t.Fatalf("err %v is not *UnexpectedAnswerError", err)
				}
				if len(ue.Body) > 200 {
					t.Errorf("len(Body) = %d, want <= 200", len(ue.Body))
				}
				if strings.Contains(ue.Body, testToken) {
					t.Errorf("Body contains the token: %q", ue.Body)
				}
				if !strings.HasPrefix(ue.Body, "your token [REDACTED] xxx") {
					t.Errorf("Body = %q", ue.Body)
				}
			},
		},
		{
			name: "401", status: 401, body: "no", want: ucontact.ErrUnauthorized, class: "unauthorized",
			check: wantStatus(401, 0),
		},
		{
			name: "403", status: 403, want: ucontact.ErrUnauthorized, class: "unauthorized",
			check: wantStatus(403, 0),
		},
		{
			name: "408", status: 408, want: ucontact.ErrUnavailable, retryable: true, class: "unavailable",
			check: wantStatus(408, 0),
		},
		{
			name: "429 retry-after seconds", status: 429, header: map[string]string{"Retry-After": "7"},
			want: ucontact.ErrUnavailable, retryable: true, class: "unavailable",
			check: wantStatus(429, 7*time.Second),
		},
		{
			name: "500", status: 500, body: "java.lang.NullPointerException",
			want: ucontact.ErrUnavailable, retryable: true, class: "unavailable",
			check: wantStatus(500, 0),
		},
		{
			name: "503 retry-after date", status: 503, header: map[string]string{"Retry-After": future},
			want: ucontact.ErrUnavailable, retryable: true, class: "unavailable",
			check: func(t *testing.T, err error) {
				var se *ucontact.StatusError
				if !errors.As(err, &se) || se.Status != 503 {
					t.Fatalf("err %v: want *StatusError 503", err)
				}
				if se.RetryAfter < 60*time.Second || se.RetryAfter > 90*time.Second {
					t.Errorf("RetryAfter = %v, want about 90s", se.RetryAfter)
				}
			},
		},
		{
			name: "404", status: 404, body: "Not Found",
			want: ucontact.ErrUnexpectedAnswer, class: "unexpected", check: wantUnexpected(404, "Not Found"),
		},
		{
			name: "400", status: 400, body: "bad",
			want: ucontact.ErrUnexpectedAnswer, class: "unexpected", check: wantUnexpected(400, "bad"),
		},
		{
			name: "redirect not followed", status: 307, header: map[string]string{"Location": "/elsewhere"},
			want: ucontact.ErrUnexpectedAnswer, class: "unexpected", check: wantUnexpected(307, ""),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			c := newClient(t, ucontact.Config{BaseURL: srv.URL, Token: testToken})
			id, err := c.AgentCall(context.Background(), testParams())
			if n := calls.Load(); n != 1 {
				t.Errorf("server got %d requests, want 1", n)
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("AgentCall: %v", err)
				}
				if id.String() != testGUID {
					t.Errorf("id = %v, want %v", id, testGUID)
				}
				return
			}
			if id != uuid.Nil {
				t.Errorf("id = %v on error, want Nil", id)
			}
			checkErr(t, err, tt.want, tt.retryable, tt.class)
			if !strings.HasPrefix(err.Error(), "ucontact: agentcall: ") {
				t.Errorf("error %q lacks the ucontact: agentcall: prefix", err)
			}
			if tt.check != nil {
				tt.check(t, err)
			}
		})
	}
}

func wantUnexpected(status int, body string) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var ue *ucontact.UnexpectedAnswerError
		if !errors.As(err, &ue) {
			t.Fatalf("err %v is not *UnexpectedAnswerError", err)
		}
		if ue.Status != status || ue.Body != body {
			t.Errorf("got {%d %q}, want {%d %q}", ue.Status, ue.Body, status, body)
		}
	}
}

func wantStatus(status int, retryAfter time.Duration) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var se *ucontact.StatusError
		if !errors.As(err, &se) {
			t.Fatalf("err %v is not *StatusError", err)
		}
		if se.Status != status || se.RetryAfter != retryAfter {
			t.Errorf("got {%d %v}, want {%d %v}", se.Status, se.RetryAfter, status, retryAfter)
		}
	}
}

func TestAgentCallRequest(t *testing.T) {
	type received struct {
		method, path, contentType, auth string
		form                            map[string][]string
	}
	got := make(chan received, 1)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("ParseForm: %v", err)
		}
		got <- received{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), r.PostForm}
		io.WriteString(w, testGUID)
	})

	p := ucontact.Params{
		CallerID:    "+598 2400 1234",
		Agent:       "josé.pérez",
		Phone:       "1001",
		Context:     "agentes",
		OutQueue:    "Ventas->",
		Destination: "a&b=c%20?#",
	}
	before := p
	// A trailing slash on BaseURL must not double the slash in the path.
	c := newClient(t, ucontact.Config{BaseURL: srv.URL + "/", Token: testToken})
	if _, err := c.AgentCall(context.Background(), p); err != nil {
		t.Fatalf("AgentCall: %v", err)
	}
	if p != before {
		t.Errorf("AgentCall changed the caller's Params: %+v", p)
	}
	r := <-got
	if r.method != http.MethodPost || r.path != agentPath {
		t.Errorf("request %s %s, want POST %s", r.method, r.path, agentPath)
	}
	if r.contentType != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q", r.contentType)
	}
	if r.auth != "Basic "+testToken {
		t.Errorf("Authorization = %q", r.auth)
	}
	want := map[string]string{
		"callerid": "+598 2400 1234", "agent": "josé.pérez", "phone": "1001", "tech": "SIP",
		"context": "agentes", "outqueue": "Ventas->", "destination": "a&b=c%20?#",
	}
	if len(r.form) != len(want) {
		t.Errorf("form has %d fields, want %d: %v", len(r.form), len(want), r.form)
	}
	for k, v := range want {
		if vs := r.form[k]; len(vs) != 1 || vs[0] != v {
			t.Errorf("form[%q] = %q, want [%q]", k, vs, v)
		}
	}
}

func TestAgentCallTech(t *testing.T) {
	for _, tt := range []struct{ in, want string }{{"", "SIP"}, {"PJSIP", "PJSIP"}} {
		t.Run(tt.want, func(t *testing.T) {
			got := make(chan string, 1)
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				got <- r.PostFormValue("tech")
				io.WriteString(w, testGUID)
			})
			c := newClient(t, ucontact.Config{BaseURL: srv.URL, Token: testToken})
			p := testParams()
			p.Tech = tt.in
			if _, err := c.AgentCall(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			if tech := <-got; tech != tt.want {
				t.Errorf("tech = %q, want %q", tech, tt.want)
			}
			if p.Tech != tt.in {
				t.Errorf("caller's Tech changed to %q", p.Tech)
			}
		})
	}
}

func TestAgentCallConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	c := newClient(t, ucontact.Config{BaseURL: "http://" + addr, Token: testToken})
	_, err = c.AgentCall(context.Background(), testParams())
	checkErr(t, err, ucontact.ErrConnect, true, "connect")
	if errors.Is(err, ucontact.ErrOutcomeUnknown) {
		t.Errorf("refused connection reported as outcome unknown: %v", err)
	}
}

func TestAgentCallDNSFailure(t *testing.T) {
	c := newClient(t, ucontact.Config{BaseURL: "https://no-such-host.invalid", Token: testToken, Timeout: 3 * time.Second})
	_, err := c.AgentCall(context.Background(), testParams())
	checkErr(t, err, ucontact.ErrConnect, true, "connect")
}

func TestAgentCallTLSHandshakeFailure(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	srv.Config.ErrorLog = discardLogger() // the handshake error the test provokes
	srv.StartTLS()
	t.Cleanup(srv.Close)

	// The default client does not trust the test server's certificate.
	c := newClient(t, ucontact.Config{BaseURL: srv.URL, Token: testToken})
	_, err := c.AgentCall(context.Background(), testParams())
	checkErr(t, err, ucontact.ErrConnect, true, "connect")
	if calls.Load() != 0 {
		t.Error("handler reached despite the failed handshake")
	}
}

func TestAgentCallTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, testGUID)
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, ucontact.Config{BaseURL: srv.URL, Token: testToken, HTTPClient: srv.Client()})
	if _, err := c.AgentCall(context.Background(), testParams()); err != nil {
		t.Fatalf("AgentCall over TLS with a caller's HTTPClient: %v", err)
	}
}

func TestAgentCallSentNoAnswer(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		handler http.HandlerFunc
		is      error // also expected in the chain
	}{
		{
			name:    "hangs past timeout",
			timeout: 300 * time.Millisecond,
			handler: func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				<-r.Context().Done() // until the client gives up
			},
		},
		{
			name: "closes the connection",
			handler: func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				conn, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Errorf("Hijack: %v", err)
					return
				}
				conn.Close()
			},
		},
		{
			name: "cuts the answer short",
			handler: func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Length", "100")
				io.WriteString(w, testGUID[:10]) // the server closes the connection
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				tt.handler(w, r)
			})
			c := newClient(t, ucontact.Config{BaseURL: srv.URL, Token: testToken, Timeout: tt.timeout})
			start := time.Now()
			_, err := c.AgentCall(context.Background(), testParams())
			checkErr(t, err, ucontact.ErrOutcomeUnknown, false, "unknown")
			if errors.Is(err, ucontact.ErrConnect) {
				t.Errorf("sent request reported as not sent: %v", err)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("server got %d requests, want exactly 1 (no retry)", n)
			}
			if tt.timeout > 0 && time.Since(start) > tt.timeout+2*time.Second {
				t.Errorf("took %v with a %v timeout", time.Since(start), tt.timeout)
			}
		})
	}
}

func TestAgentCallContext(t *testing.T) {
	t.Run("canceled before sending", func(t *testing.T) {
		var calls atomic.Int32
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
		c := newClient(t, ucontact.Config{BaseURL: srv.URL, Token: testToken})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.AgentCall(ctx, testParams())
		checkErr(t, err, ucontact.ErrConnect, true, "connect")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err %v does not wrap context.Canceled", err)
		}
		if calls.Load() != 0 {
			t.Error("request reached the server")
		}
	})
	t.Run("canceled after sending", func(t *testing.T) {
		received := make(chan struct{})
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			close(received)
			<-r.Context().Done()
		})
		c := newClient(t, ucontact.Config{BaseURL: srv.URL, Token: testToken})
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-received; cancel() }()
		_, err := c.AgentCall(ctx, testParams())
		checkErr(t, err, ucontact.ErrOutcomeUnknown, false, "unknown")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err %v does not wrap context.Canceled", err)
		}
	})
	t.Run("deadline after sending", func(t *testing.T) {
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
		})
		c := newClient(t, ucontact.Config{BaseURL: srv.URL, Token: testToken})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := c.AgentCall(ctx, testParams())
		checkErr(t, err, ucontact.ErrOutcomeUnknown, false, "unknown")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err %v does not wrap context.DeadlineExceeded", err)
		}
	})
}

// fakeUContact serves getUserToken and AgentCall. Login n (from 1) issues
// token "tok<n>"; AgentCall accepts only the tokens in valid.
type fakeUContact struct {
	t          *testing.T
	user, pass string
	loginDelay time.Duration
	loginBody  func(n int) string // nil: `["ok","tok<n>"]`

	mu     sync.Mutex
	valid  map[string]bool
	logins int
	calls  int
	auths  []string
}

func (f *fakeUContact) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case loginPath:
		time.Sleep(f.loginDelay)
		f.mu.Lock()
		f.logins++
		n := f.logins
		f.mu.Unlock()
		if r.Header.Get("Authorization") != "" {
			f.t.Errorf("login sent an Authorization header")
		}
		if r.PostFormValue("user") != f.user || r.PostFormValue("password") != f.pass {
			io.WriteString(w, "0")
			return
		}
		if f.loginBody != nil {
			io.WriteString(w, f.loginBody(n))
			return
		}
		io.WriteString(w, `["ok","tok`+strconv.Itoa(n)+`"]`+"\n")
	case agentPath:
		auth := r.Header.Get("Authorization")
		f.mu.Lock()
		f.calls++
		f.auths = append(f.auths, auth)
		ok := f.valid[strings.TrimPrefix(auth, "Basic ")]
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, testGUID)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeUContact) counts() (logins, calls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins, f.calls
}

const (
	testUser = "api.user"
	testPass = "p@ss&word=1 +x"
)

func newFake(t *testing.T, valid ...string) (*fakeUContact, *ucontact.Client) {
	f := &fakeUContact{t: t, user: testUser, pass: testPass, valid: map[string]bool{}}
	for _, v := range valid {
		f.valid[v] = true
	}
	srv := newServer(t, f.ServeHTTP)
	return f, newClient(t, ucontact.Config{BaseURL: srv.URL, User: testUser, Password: testPass})
}

func TestLoginFlow(t *testing.T) {
	f, c := newFake(t, "tok1")
	for range 3 {
		if _, err := c.AgentCall(context.Background(), testParams()); err != nil {
			t.Fatalf("AgentCall: %v", err)
		}
	}
	logins, calls := f.counts()
	if logins != 1 || calls != 3 {
		t.Errorf("logins, calls = %d, %d; want 1, 3", logins, calls)
	}
	for _, a := range f.auths {
		if a != "Basic tok1" {
			t.Errorf("Authorization = %q, want %q", a, "Basic tok1")
		}
	}
}

func TestLoginLastItemIsToken(t *testing.T) {
	f, c := newFake(t, "dXNlcjp1dWlk")
	f.loginBody = func(int) string { return ` ["x", "y", "dXNlcjp1dWlk"] ` }
	if err := c.Login(context.Background()); err != nil {
		t.Fatalf("Login: %v", err)
	}
	if _, err := c.AgentCall(context.Background(), testParams()); err != nil {
		t.Fatalf("AgentCall: %v", err)
	}
	if logins, _ := f.counts(); logins != 1 {
		t.Errorf("logins = %d, want 1 (Login's token reused)", logins)
	}
}

func TestLoginBadCredentials(t *testing.T) {
	f := &fakeUContact{t: t, user: testUser, pass: "other", valid: map[string]bool{}}
	srv := newServer(t, f.ServeHTTP)
	c := newClient(t, ucontact.Config{BaseURL: srv.URL, User: testUser, Password: testPass})

	_, err := c.AgentCall(context.Background(), testParams())
	checkErr(t, err, ucontact.ErrLoginFailed, false, "login_failed", testPass)
	err = c.Login(context.Background())
	checkErr(t, err, ucontact.ErrLoginFailed, false, "login_failed", testPass)
	if _, calls := f.counts(); calls != 0 {
		t.Errorf("AgentCall sent %d times without a token", calls)
	}
}

func TestLoginAnswers(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		want      error
		retryable bool
		class     string
	}{
		{"zero quoted in list", 200, `["0"]`, ucontact.ErrLoginFailed, false, "login_failed"},
		{"401", 401, "", ucontact.ErrLoginFailed, false, "login_failed"},
		{"503", 503, "", ucontact.ErrUnavailable, true, "unavailable"},
		{"not json, echoes password", 200, "error for " + testPass, ucontact.ErrUnexpectedAnswer, false, "unexpected"},
		{"empty list", 200, "[]", ucontact.ErrUnexpectedAnswer, false, "unexpected"},
		{"token with newline", 200, `["a","b\nc"]`, ucontact.ErrUnexpectedAnswer, false, "unexpected"},
		{"404", 404, "", ucontact.ErrUnexpectedAnswer, false, "unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			c := newClient(t, ucontact.Config{BaseURL: srv.URL, User: testUser, Password: testPass})
			err := c.Login(context.Background())
			checkErr(t, err, tt.want, tt.retryable, tt.class, testPass)
			_, err = c.AgentCall(context.Background(), testParams())
			checkErr(t, err, tt.want, tt.retryable, tt.class, testPass)
		})
	}
}

func TestLoginTransportErrorsAreRetryable(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		c := newClient(t, ucontact.Config{BaseURL: "http://" + addr, User: testUser, Password: testPass})
		_, err = c.AgentCall(context.Background(), testParams())
		checkErr(t, err, ucontact.ErrConnect, true, "connect", testPass)
	})
	t.Run("login hangs", func(t *testing.T) {
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
		})
		c := newClient(t, ucontact.Config{BaseURL: srv.URL, User: testUser, Password: testPass, Timeout: 200 * time.Millisecond})
		// The AgentCall itself was never sent: retrying it is safe.
		_, err := c.AgentCall(context.Background(), testParams())
		checkErr(t, err, ucontact.ErrUnavailable, true, "unavailable", testPass)
	})
}

func TestReloginAfter401(t *testing.T) {
	// tok1 is refused (expired); the login after the 401 yields tok2.
	f, c := newFake(t, "tok2")
	id, err := c.AgentCall(context.Background(), testParams())
	if err != nil {
		t.Fatalf("AgentCall: %v", err)
	}
	if id.String() != testGUID {
		t.Errorf("id = %v", id)
	}
	logins, calls := f.counts()
	if logins != 2 || calls != 2 {
		t.Errorf("logins, calls = %d, %d; want 2, 2", logins, calls)
	}
	if want := []string{"Basic tok1", "Basic tok2"}; strings.Join(f.auths, ",") != strings.Join(want, ",") {
		t.Errorf("Authorization headers = %q, want %q", f.auths, want)
	}
	// The new token is kept.
	if _, err := c.AgentCall(context.Background(), testParams()); err != nil {
		t.Fatal(err)
	}
	if logins, _ := f.counts(); logins != 2 {
		t.Errorf("logins = %d after a further call, want 2", logins)
	}
}

func TestReloginOnlyOnce(t *testing.T) {
	f, c := newFake(t) // every token refused
	_, err := c.AgentCall(context.Background(), testParams())
	checkErr(t, err, ucontact.ErrUnauthorized, false, "unauthorized", testPass)
	var se *ucontact.StatusError
	if !errors.As(err, &se) || se.Status != 401 {
		t.Errorf("err %v: want *StatusError 401", err)
	}
	logins, calls := f.counts()
	if logins != 2 || calls != 2 {
		t.Errorf("logins, calls = %d, %d; want 2, 2 (one re-login, one retry)", logins, calls)
	}
}

func TestNoReloginOn403(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == loginPath {
			io.WriteString(w, `["tok"]`)
			return
		}
		w.WriteHeader(http.StatusForbidden)
	})
	c := newClient(t, ucontact.Config{BaseURL: srv.URL, User: testUser, Password: testPass})
	_, err := c.AgentCall(context.Background(), testParams())
	checkErr(t, err, ucontact.ErrUnauthorized, false, "unauthorized", testPass)
}

func TestStaticToken401(t *testing.T) {
	f := &fakeUContact{t: t, valid: map[string]bool{}}
	srv := newServer(t, f.ServeHTTP)
	c := newClient(t, ucontact.Config{BaseURL: srv.URL, Token: testToken, User: testUser, Password: testPass})
	_, err := c.AgentCall(context.Background(), testParams())
	checkErr(t, err, ucontact.ErrUnauthorized, false, "unauthorized", testPass)
	logins, calls := f.counts()
	if logins != 0 || calls != 1 {
		t.Errorf("logins, calls = %d, %d; want 0, 1", logins, calls)
	}
	if err := c.Login(context.Background()); err != nil {
		t.Errorf("Login with a static token: %v", err)
	}
	if logins, _ := f.counts(); logins != 0 {
		t.Errorf("Login with a static token called getUserToken")
	}
}

func TestConcurrentCallsShareOneLogin(t *testing.T) {
	f, c := newFake(t, "tok1")
	f.loginDelay = 100 * time.Millisecond
	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := c.AgentCall(context.Background(), testParams())
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("AgentCall: %v", err)
		}
	}
	logins, calls := f.counts()
	if logins != 1 || calls != n {
		t.Errorf("logins, calls = %d, %d; want 1, %d", logins, calls, n)
	}
}

func TestConcurrent401sShareOneRelogin(t *testing.T) {
	f, c := newFake(t, "tok1")
	if err := c.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	// tok1 expires; the next login yields tok2.
	f.mu.Lock()
	f.valid = map[string]bool{"tok2": true}
	f.mu.Unlock()
	f.loginDelay = 50 * time.Millisecond

	const n = 16
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := c.AgentCall(context.Background(), testParams()); err != nil {
				t.Errorf("AgentCall: %v", err)
			}
		})
	}
	wg.Wait()
	if logins, _ := f.counts(); logins != 2 {
		t.Errorf("logins = %d, want 2 (the first and one shared re-login)", logins)
	}
}

func TestLoginWaitHonoursContext(t *testing.T) {
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		io.WriteString(w, `["tok"]`)
	})
	t.Cleanup(func() { close(release) })
	c := newClient(t, ucontact.Config{BaseURL: srv.URL, User: testUser, Password: testPass})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.AgentCall(ctx, testParams())
	checkErr(t, err, ucontact.ErrConnect, true, "connect", testPass)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v does not wrap context.DeadlineExceeded", err)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ucontact.Config
		wantErr string // "" for success
	}{
		{"token", ucontact.Config{BaseURL: "https://acme.ucontactcloud.com", Token: "abc"}, ""},
		{"trailing slash", ucontact.Config{BaseURL: "https://acme.ucontactcloud.com/", Token: "abc"}, ""},
		{"user and password", ucontact.Config{BaseURL: "http://10.0.0.1:8080", User: "u", Password: "p"}, ""},
		{"empty base", ucontact.Config{Token: "abc"}, "BaseURL is empty"},
		{"blank base", ucontact.Config{BaseURL: "  ", Token: "abc"}, "BaseURL is empty"},
		{"unparseable base", ucontact.Config{BaseURL: "https://acme\x7f.com", Token: "abc"}, "not a valid URL"},
		{"relative base", ucontact.Config{BaseURL: "acme.ucontactcloud.com", Token: "abc"}, "https://"},
		{"ftp base", ucontact.Config{BaseURL: "ftp://acme.ucontactcloud.com", Token: "abc"}, "https://"},
		{"no host", ucontact.Config{BaseURL: "https://", Token: "abc"}, "no host"},
		{"credentials in base", ucontact.Config{BaseURL: "https://u:hunter2@acme.com", Token: "abc"}, "credentials"},
		{"query in base", ucontact.Config{BaseURL: "https://acme.com/?a=1", Token: "abc"}, "query"},
		{"no credentials", ucontact.Config{BaseURL: "https://acme.com"}, "set Token"},
		{"user only", ucontact.Config{BaseURL: "https://acme.com", User: "u"}, "set Token"},
		{"password only", ucontact.Config{BaseURL: "https://acme.com", Password: "hunter2"}, "set Token"},
		{"token with newline", ucontact.Config{BaseURL: "https://acme.com", Token: "ab\r\nX-Evil: 1"}, "Token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ucontact.New(tt.cfg)
			if tt.wantErr == "" {
				if err != nil || c == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New succeeded, want error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %q, want it to contain %q", err, tt.wantErr)
			}
			for _, secret := range []string{"hunter2", "X-Evil"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("err %q discloses %q", err, secret)
				}
			}
		})
	}
}

func TestBaseURLForInstance(t *testing.T) {
	if got, want := ucontact.BaseURLForInstance("acme"), "https://acme.ucontactcloud.com"; got != want {
		t.Errorf("BaseURLForInstance = %q, want %q", got, want)
	}
}

func TestConcurrentUse(t *testing.T) {
	var calls atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%2 == 0 {
			io.WriteString(w, "0")
			return
		}
		io.WriteString(w, testGUID)
	})
	c := newClient(t, ucontact.Config{BaseURL: srv.URL, Token: testToken})
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			_, err := c.AgentCall(context.Background(), testParams())
			if err != nil && !errors.Is(err, ucontact.ErrRejected) {
				t.Errorf("AgentCall: %v", err)
			}
		})
	}
	wg.Wait()
	if calls.Load() != 64 {
		t.Errorf("server got %d requests, want 64", calls.Load())
	}
}
