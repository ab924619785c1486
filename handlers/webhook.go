package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"dialhook/crm"
	"dialhook/store"
)

const maxWait = 30 * time.Second

// webhookAnswer is the JSON answer for one event.
type webhookAnswer struct {
	EventID  string            `json:"event_id,omitempty"`
	Status   string            `json:"status"`
	CallGUID string            `json:"call_guid,omitempty"`
	DueAt    *time.Time        `json:"due_at,omitempty"`
	Reason   string            `json:"reason,omitempty"`
	Fields   map[string]string `json:"fields,omitempty"`
	// DuplicateOf says what a duplicate duplicates: the first delivery's
	// event as it is now.
	DuplicateOf *duplicateOf `json:"duplicate_of,omitempty"`
	// Supersedes is the mapping-rejected event whose dedup claim this
	// redelivery took over because it maps now.
	Supersedes string       `json:"supersedes,omitempty"`
	Event      *store.Event `json:"event,omitempty"`

	stillRejected bool // a duplicate of a mapping rejection that still does not map
}

// duplicateOf is the state of the event a duplicate delivery repeats.
type duplicateOf struct {
	EventID   string `json:"event_id"`
	State     string `json:"state"`
	CallGUID  string `json:"call_guid,omitempty"`
	ErrorKind string `json:"error_kind,omitempty"`
}

// webhook receives POST /webhooks/{source}.
func (s *Server) webhook(c echo.Context) error {
	start := time.Now()
	name := c.Param("source")
	src := s.sources[name]
	log := s.log.With(zap.String("source", name))
	if src == nil {
		s.logWebhook(log, start, "unknown_source", http.StatusNotFound, nil)
		return newError(http.StatusNotFound, "unknown_source", fmt.Sprintf("no source %q is configured; configured sources are served at /webhooks/{name}", name))
	}
	status, outcome, ids, err := s.receive(c, src, start)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error", Err: err}
		}
		status, outcome = ae.Status, ae.Code
		if ae.Err != nil {
			log = log.With(zap.NamedError("cause", ae.Err))
		}
		if src.Adapter.Dialect().SOAP {
			err = c.Blob(ae.Status, "text/xml; charset=utf-8", crm.SOAPFault(soapCode(ae.Status), ae.Message))
		}
	}
	s.logWebhook(log, start, outcome, status, ids)
	return err
}

func soapCode(status int) string {
	if status >= 500 {
		return "soapenv:Server"
	}
	return "soapenv:Client"
}

func (s *Server) logWebhook(log *zap.Logger, start time.Time, outcome string, status int, ids []string) {
	fields := []zap.Field{zap.String("outcome", outcome), zap.Int("status", status), zap.Duration("latency", time.Since(start))}
	switch len(ids) {
	case 0:
	case 1:
		fields = append(fields, zap.String("event_id", ids[0]))
	default:
		fields = append(fields, zap.Strings("event_ids", ids))
	}
	log.Info("webhook", fields...)
}

// receive does the work of a webhook and writes the success answer. It
// returns the status, an outcome for the log and metrics, and the event ids.
func (s *Server) receive(c echo.Context, src *Source, start time.Time) (int, string, []string, error) {
	r := c.Request()
	ctx := r.Context()
	dialect := src.Adapter.Dialect()
	fail := func(outcome string) { s.metrics.Webhooks.WithLabelValues(src.Name, outcome).Inc() }

	body, err := readBody(r, s.maxBody)
	if err != nil {
		fail("body_too_large")
		return 0, "", nil, err
	}
	dryRun := c.QueryParam("dry_run") == "true"
	if dryRun {
		if err := s.checkAdmin(r); err != nil {
			return 0, "", nil, err
		}
	}
	wait, err := parseWait(c.QueryParam("wait"))
	if err != nil {
		return 0, "", nil, err
	}
	u := r.URL
	if dryRun || wait > 0 {
		// The CRM signed its own URL, without dialhook's query parameters:
		// a replayed request with ?dry_run=true or ?wait= must still verify.
		u = withoutParams(r.URL, "dry_run", "wait")
	}
	req := &crm.Request{Method: r.Method, URL: u, Host: r.Host, TLS: r.TLS != nil, Header: r.Header, Body: body, Now: s.now()}
	if err := src.Adapter.Authenticate(req); err != nil {
		return 0, "", nil, s.adapterError(src, err)
	}
	batch, err := src.Adapter.Parse(req)
	if err != nil {
		return 0, "", nil, s.adapterError(src, err)
	}
	if batch.Ignored != "" {
		fail("ignored")
		if dialect.SOAP {
			return http.StatusOK, "ignored", nil, c.Blob(http.StatusOK, "text/xml; charset=utf-8", crm.SOAPAck())
		}
		return http.StatusOK, "ignored", nil, c.JSON(http.StatusOK, webhookAnswer{Status: "ignored", Reason: batch.Ignored})
	}

	plans := src.plan(batch.Events, req.Now, s.dedup, dryRun)
	if dryRun {
		return http.StatusOK, "dry_run", nil, c.JSON(http.StatusOK, View(src, src.Adapter.Kind(), plans))
	}
	acc, err := s.accept(ctx, c, plans)
	if err != nil {
		fail("store_error")
		return 0, "", nil, err
	}

	answers := make([]webhookAnswer, len(acc))
	ids := make([]string, len(acc))
	queued := false
	for i, a := range acc {
		ans := answerFor(a, plans[i].Submission.Event)
		switch {
		case a.Duplicate:
			s.metrics.DedupHits.WithLabelValues(src.Name).Inc()
		case a.Event.State == store.Queued, a.Event.State == store.Scheduled:
			queued = true
		}
		s.metrics.Webhooks.WithLabelValues(src.Name, ans.Status).Inc()
		answers[i], ids[i] = ans, a.Event.ID
	}
	outcome := answers[0].Status
	if len(answers) > 1 {
		outcome = "batch"
	}

	if dialect.SOAP {
		// One Ack acknowledges every notification, rejected ones included:
		// Salesforce's redelivery could not fix them; they are recorded.
		return http.StatusOK, outcome, ids, c.Blob(http.StatusOK, "text/xml; charset=utf-8", crm.SOAPAck())
	}
	if len(answers) > 1 {
		status := http.StatusOK
		if queued {
			status = http.StatusAccepted
		}
		return status, outcome, ids, c.JSON(status, map[string]any{"status": "accepted", "events": answers})
	}

	ans := answers[0]
	rejected := ans.Status == string(store.Rejected) || ans.stillRejected
	switch {
	case rejected && dialect.RejectStatus != http.StatusOK:
		body := map[string]any{
			"event_id": ans.EventID,
			"error":    errorDetail{Code: "mapping_failed", Message: ans.Reason, Fields: ans.Fields},
		}
		if ans.DuplicateOf != nil {
			body["duplicate_of"] = ans.DuplicateOf
		}
		return dialect.RejectStatus, outcome, ids, c.JSON(dialect.RejectStatus, body)
	case ans.Status == string(store.Queued) && wait > 0:
		e, done := s.waitFinal(ctx, ans.EventID, wait)
		if done {
			return http.StatusOK, outcome, ids, c.JSON(http.StatusOK, webhookAnswer{EventID: e.ID, Status: string(e.State), CallGUID: e.CallGUID, Event: e})
		}
		return http.StatusAccepted, outcome, ids, c.JSON(http.StatusAccepted, ans)
	case ans.Status == string(store.Queued) || ans.Status == string(store.Scheduled):
		return http.StatusAccepted, outcome, ids, c.JSON(http.StatusAccepted, ans)
	}
	return http.StatusOK, outcome, ids, c.JSON(http.StatusOK, ans)
}

// accept records the planned events, waiting at most the store timeout.
func (s *Server) accept(ctx context.Context, c echo.Context, plans []Planned) ([]store.Accepted, error) {
	subs := make([]store.Submission, len(plans))
	for i, p := range plans {
		subs[i] = p.Submission
	}
	actx, cancel := context.WithTimeout(ctx, s.storeWait)
	defer cancel()
	acc, err := s.store.Accept(actx, subs)
	switch {
	case err == nil:
		return acc, nil
	case errors.Is(err, store.ErrQueueFull):
		c.Response().Header().Set("Retry-After", "30")
		return nil, &apiError{Status: http.StatusServiceUnavailable, Code: "queue_full", Message: "the call queue is full; retry later", Err: err}
	case errors.Is(err, store.ErrFull):
		c.Response().Header().Set("Retry-After", "60")
		return nil, &apiError{Status: http.StatusServiceUnavailable, Code: "store_full", Message: "the store is out of memory; the event was not recorded; retry later", Err: err}
	}
	c.Response().Header().Set("Retry-After", "10")
	return nil, &apiError{Status: http.StatusServiceUnavailable, Code: "store_unavailable", Message: "the event could not be recorded; retry later", Err: err}
}

// answerFor is the answer for one accepted event; planned is the record
// this delivery would have made (for a duplicate, its own mapping result).
func answerFor(a store.Accepted, planned *store.Event) webhookAnswer {
	e := a.Event
	ans := webhookAnswer{EventID: e.ID, Status: string(e.State), CallGUID: e.CallGUID, Supersedes: e.Supersedes}
	switch {
	case a.Duplicate:
		ans.Status = "duplicate"
		ans.DuplicateOf = &duplicateOf{EventID: e.ID, State: string(e.State), CallGUID: e.CallGUID, ErrorKind: e.ErrorKind}
		if planned.State == store.Rejected && planned.ErrorKind == mappingFailed {
			// A redelivery of a mapping rejection that still does not map:
			// say why, from this delivery's own mapping.
			ans.Reason, ans.Fields, ans.stillRejected = planned.Error, planned.Fields, true
		}
	case e.State == store.Scheduled:
		ans.DueAt = e.DueAt
	case e.State == store.Rejected:
		ans.Reason, ans.Fields = e.Error, e.Fields
	case e.State == store.Expired:
		ans.Reason = e.Error
	}
	return ans
}

// adapterError turns an adapter's error into the answer, counting and
// logging authentication failures without any secret.
func (s *Server) adapterError(src *Source, err error) error {
	var ae *crm.AuthError
	switch {
	case errors.As(err, &ae) || errors.Is(err, crm.ErrUnauthenticated):
		reason := "unauthenticated"
		if ae != nil {
			reason = ae.Reason
		}
		s.metrics.AuthFails.WithLabelValues(src.Name, reason).Inc()
		s.metrics.Webhooks.WithLabelValues(src.Name, "unauthorized").Inc()
		return &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "authentication failed", Err: errors.New(reason)}
	case errors.Is(err, crm.ErrMalformed):
		s.metrics.Webhooks.WithLabelValues(src.Name, "malformed").Inc()
		return &apiError{Status: http.StatusBadRequest, Code: "malformed", Message: err.Error()}
	case errors.Is(err, crm.ErrUnprocessable):
		s.metrics.Webhooks.WithLabelValues(src.Name, "unprocessable").Inc()
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "unprocessable", Message: err.Error()}
	}
	return err
}

// withoutParams returns a copy of u without the named query parameters,
// keeping the rest of the raw query exactly as sent.
func withoutParams(u *url.URL, names ...string) *url.URL {
	c := *u
	parts := strings.Split(u.RawQuery, "&")
	kept := parts[:0:0]
	for _, p := range parts {
		key, _, _ := strings.Cut(p, "=")
		if slices.Contains(names, key) {
			continue
		}
		kept = append(kept, p)
	}
	c.RawQuery = strings.Join(kept, "&")
	return &c
}

// readBody reads the whole body, at most limit bytes.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, newError(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body is larger than %d bytes", limit))
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, &apiError{Status: http.StatusBadRequest, Code: "bad_body", Message: "the body could not be read", Err: err}
	}
	if n > limit {
		return nil, newError(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body is larger than %d bytes", limit))
	}
	return buf.Bytes(), nil
}

func parseWait(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		if n, nerr := strconv.Atoi(v); nerr == nil {
			d, err = time.Duration(n)*time.Second, nil
		}
	}
	if err != nil || d < 0 {
		return 0, newError(http.StatusBadRequest, "bad_wait", "wait must be a duration such as 10s (at most 30s)")
	}
	return min(d, maxWait), nil
}

// waitFinal polls the record until it is final or wait is over. Any replica
// may dial the event: the record in the store is the one truth.
func (s *Server) waitFinal(ctx context.Context, id string, wait time.Duration) (*store.Event, bool) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	t := time.NewTicker(s.waitPoll)
	defer t.Stop()
	for {
		e, err := s.store.Get(ctx, id)
		if err == nil && e.State.Final() {
			return e, true
		}
		select {
		case <-ctx.Done():
			return nil, false
		case <-t.C:
		}
	}
}
