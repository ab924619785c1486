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
	"dialhook/intake"
	"dialhook/store"
)

const maxWait = 30 * time.Second

// reply is what a webhook was answered, for its log line: the outcome,
// and for every non-success why (a mapping failure's fields, the failed
// authentication's scheme, the parse error).
type reply struct {
	status  int
	outcome string
	ids     []string
	reason  string
	fields  map[string]string
	scheme  string
	body    []byte   // as read (for the refusal log)
	wouldBe []string // a dry run's events, what each would be
	// guid and agent: what an unmatched uContact event named.
	guid, agent string
}

// webhook receives POST /webhooks/{source}: it reads the body under the
// limit, hands the request to intake and answers in the sender's dialect.
func (s *Server) webhook(c echo.Context) error {
	start := time.Now()
	name := c.Param("source")
	src := s.sources[name]
	log := s.log.With(zap.String("source", name))
	if src == nil {
		s.logWebhook(log, start, reply{outcome: "unknown_source", status: http.StatusNotFound})
		msg := fmt.Sprintf("no source %q is configured; configured sources are served at /webhooks/{name}", name)
		s.recorder.Refused(nil, name, s.refusedRequest(c, nil), http.StatusNotFound, "unknown_source", "no such source")
		return newError(http.StatusNotFound, "unknown_source", msg)
	}
	rp, err := s.receive(c, src)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error", Err: err}
		}
		rp.status, rp.outcome, rp.reason, rp.scheme = ae.Status, ae.Code, ae.Message, ae.scheme
		if ae.reason != "" {
			rp.reason = ae.reason
		}
		if ae.Err != nil {
			log = log.With(zap.NamedError("cause", ae.Err))
		}
		if src.Adapter.Dialect().SOAP {
			err = c.Blob(ae.Status, "text/xml; charset=utf-8", crm.SOAPFault(soapCode(ae.Status), ae.Message))
		}
	}
	if refusedStatus(rp.status) {
		reason := rp.reason
		if rp.scheme != "" {
			reason += " (scheme: " + rp.scheme + ")"
		}
		s.recorder.Refused(src, name, s.refusedRequest(c, rp.body), rp.status, rp.outcome, reason)
	}
	s.logWebhook(log, start, rp)
	return err
}

// refusedStatus: the answers the console's refusal log keeps.
func refusedStatus(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// refusedRequest is the request of a refused webhook for the refusal log
// (the body as far as it was read).
func (s *Server) refusedRequest(c echo.Context, body []byte) *crm.Request {
	r := c.Request()
	return &crm.Request{Method: r.Method, URL: r.URL, Host: r.Host, TLS: r.TLS != nil, Header: r.Header, Body: body, Now: s.now()}
}

func soapCode(status int) string {
	if status >= 500 {
		return "soapenv:Server"
	}
	return "soapenv:Client"
}

// appendOneOrMany adds vals as one string field (one value) or a list
// under plural (several), and nothing when there is none.
func appendOneOrMany(fields []zap.Field, one, plural string, vals []string) []zap.Field {
	switch len(vals) {
	case 0:
		return fields
	case 1:
		return append(fields, zap.String(one, vals[0]))
	}
	return append(fields, zap.Strings(plural, vals))
}

// logWebhook writes the one line of a webhook: INFO when it was taken,
// WARN with the reason when it was refused, rejected or is unknown, and
// the store's own outages are logged once by the outage tracker.
func (s *Server) logWebhook(log *zap.Logger, start time.Time, rp reply) {
	fields := []zap.Field{zap.String("outcome", rp.outcome), zap.Int("status", rp.status), zap.Duration("latency", time.Since(start))}
	fields = appendOneOrMany(fields, "event_id", "event_ids", rp.ids)
	if rp.reason != "" {
		fields = append(fields, zap.String("reason", rp.reason))
	}
	if len(rp.fields) > 0 {
		fields = append(fields, zap.Any("fields", rp.fields))
	}
	if rp.scheme != "" {
		fields = append(fields, zap.String("scheme", rp.scheme))
	}
	fields = appendOneOrMany(fields, "would_be", "would_be", rp.wouldBe)
	if rp.guid != "" {
		fields = append(fields, zap.String("guid", rp.guid))
	}
	if rp.agent != "" {
		fields = append(fields, zap.String("agent", rp.agent))
	}
	switch rp.outcome {
	case "queued", "scheduled", "duplicate", "ignored", "suppressed", "placed", "dry_run", "batch",
		"blocked", "capped", // a calling rule did its job (the reason says which)
		"completed", "disposed", "recorded", "agent_no_answer", "requeued": // uContact's call events
		log.Info("webhook", fields...)
	default:
		log.Warn("webhook", fields...)
	}
}

// receive translates the request for intake and intake's result into the
// answer.
func (s *Server) receive(c echo.Context, src *intake.Source) (reply, error) {
	r := c.Request()
	body, err := readBody(r, s.maxBody)
	if err != nil {
		s.count(src, "body_too_large")
		return reply{}, err
	}
	rp, err := s.receiveBody(c, src, body)
	rp.body = body
	return rp, err
}

// receiveBody is receive once the body is read.
func (s *Server) receiveBody(c echo.Context, src *intake.Source, body []byte) (reply, error) {
	r := c.Request()
	dryRun := c.QueryParam("dry_run") == "true"
	if dryRun {
		if err := s.checkAdmin(r); err != nil {
			return reply{}, err
		}
	}
	wait, err := parseWait(c.QueryParam("wait"))
	if err != nil {
		return reply{}, err
	}
	u := r.URL
	if dryRun || wait > 0 {
		// The CRM signed its own URL, without dialhook's query parameters:
		// a replayed request with ?dry_run=true or ?wait= must still verify.
		u = withoutParams(r.URL, "dry_run", "wait")
	}
	req := &crm.Request{Method: r.Method, URL: u, Host: r.Host, TLS: r.TLS != nil, Header: r.Header, Body: body, Now: s.now()}
	res, err := s.intake.Receive(r.Context(), src, req, dryRun)
	switch {
	case err != nil:
		return reply{}, s.intakeError(c, src, err)
	case !dryRun && res.Answers != nil:
		s.storeAnswered(res.Answers)
	}
	switch {
	case res.Call != nil:
		return s.answerCall(c, src, req, res.Call)
	case res.Ignored != "":
		s.count(src, "ignored")
		return s.answerIgnored(c, src, res.Ignored)
	case dryRun:
		view := intake.View(src, src.Adapter.Kind(), res.Plans)
		rp := reply{status: http.StatusOK, outcome: "dry_run"}
		for _, ev := range view.Events {
			rp.wouldBe = append(rp.wouldBe, string(ev.State))
		}
		return rp, c.JSON(http.StatusOK, view)
	}
	return s.answer(c, src, res.Answers, wait)
}

// answerCall answers a uContact event: 200 whatever it did (uContact
// documents no retries; an unmatched GUID is not the sender's error), and
// an unmatched one is kept with the refused deliveries for the console.
func (s *Server) answerCall(c echo.Context, src *intake.Source, req *crm.Request, ans *intake.CallAnswer) (reply, error) {
	s.count(src, ans.Status)
	event := ans.Event
	switch store.CallEventKind(event) {
	case store.CallFinished, store.CallDisposed, store.CallAgentNoAnswer:
	default:
		event = "other" // the label stays bounded
	}
	s.metrics.CallEvents.WithLabelValues(event, ans.Status).Inc()
	rp := reply{status: http.StatusOK, outcome: ans.Status}
	if ans.EventID != "" {
		rp.ids = []string{ans.EventID}
	}
	if ans.Status == string(store.CallUnmatched) {
		rp.reason = ans.Reason
		rp.guid, rp.agent = ans.GUID, ans.Agent
		s.recorder.Refused(src, src.Name, req, http.StatusOK, "unmatched", ans.Event+": "+ans.Reason)
	}
	return rp, c.JSON(http.StatusOK, ans)
}

// count counts one webhook outcome of src.
func (s *Server) count(src *intake.Source, outcome string) {
	s.metrics.Webhooks.WithLabelValues(src.Name, outcome).Inc()
}

func (s *Server) answerIgnored(c echo.Context, src *intake.Source, why string) (reply, error) {
	rp := reply{status: http.StatusOK, outcome: "ignored"}
	if src.Adapter.Dialect().SOAP {
		return rp, c.Blob(http.StatusOK, "text/xml; charset=utf-8", crm.SOAPAck())
	}
	return rp, c.JSON(http.StatusOK, intake.Answer{Status: "ignored", Reason: why})
}

// answer writes the answer for the recorded events in the sender's dialect.
func (s *Server) answer(c echo.Context, src *intake.Source, answers []intake.Answer, wait time.Duration) (reply, error) {
	rp := reply{ids: make([]string, len(answers)), outcome: answers[0].Status}
	queued := false
	for i, a := range answers {
		if a.Status == "duplicate" {
			s.metrics.DedupHits.WithLabelValues(src.Name).Inc()
		} else {
			s.recorder.Accepted(src.Name, 1)
		}
		queued = queued || a.Status == string(store.Queued) || a.Status == string(store.Scheduled)
		switch a.Status {
		case string(store.Blocked):
			s.metrics.Rules.WithLabelValues("do_not_call", "accept").Inc()
		case string(store.Capped):
			s.metrics.Rules.WithLabelValues("cap", "accept").Inc()
		}
		s.count(src, a.Status)
		rp.ids[i] = a.EventID
	}
	if len(answers) > 1 {
		rp.outcome = "batch"
	}
	dialect := src.Adapter.Dialect()
	if dialect.SOAP {
		// One Ack acknowledges every notification, rejected ones included:
		// Salesforce's redelivery could not fix them; they are recorded.
		rp.status = http.StatusOK
		return rp, c.Blob(http.StatusOK, "text/xml; charset=utf-8", crm.SOAPAck())
	}
	if len(answers) > 1 {
		rp.status = http.StatusOK
		if queued {
			rp.status = http.StatusAccepted
		}
		return rp, c.JSON(rp.status, map[string]any{"status": "accepted", "events": answers})
	}
	ans := answers[0]
	if ans.Reason != "" { // intake says why whenever an event will not be dialed
		rp.reason, rp.fields = ans.Reason, ans.Fields
		if ans.Status == "duplicate" {
			rp.outcome = "rejected" // a duplicate of a rejection that still does not map
		}
	}
	switch {
	case ans.MappingRejected && dialect.RejectStatus != http.StatusOK:
		body := map[string]any{
			"event_id": ans.EventID,
			"error":    errorDetail{Code: "mapping_failed", Message: ans.Reason, Fields: ans.Fields},
		}
		if ans.DuplicateOf != nil {
			body["duplicate_of"] = ans.DuplicateOf
		}
		rp.status = dialect.RejectStatus
		return rp, c.JSON(rp.status, body)
	case ans.Status == string(store.Queued) && wait > 0:
		if e, done := s.waitFinal(c.Request().Context(), ans.EventID, wait); done {
			rp.status, rp.outcome = http.StatusOK, string(e.State) // what the wait saw
			if e.State != store.Placed {
				rp.reason = e.Error
			}
			e.Request = nil // the sender's own request is not echoed back
			return rp, c.JSON(http.StatusOK, intake.Answer{EventID: e.ID, Status: string(e.State), CallGUID: e.CallGUID, Event: e})
		}
		rp.status = http.StatusAccepted
	case ans.Status == string(store.Queued) || ans.Status == string(store.Scheduled):
		rp.status = http.StatusAccepted
	default:
		rp.status = http.StatusOK
	}
	return rp, c.JSON(rp.status, ans)
}

// storeAnswered tells the outage tracker the store took a webhook: a new
// record is a write that needs memory (the store is back, whatever the
// outage was); duplicates only are reads, which Redis out of memory still
// answers.
func (s *Server) storeAnswered(answers []intake.Answer) {
	for _, a := range answers {
		if a.DuplicateOf == nil {
			s.storeDown.OK()
			return
		}
	}
	s.storeDown.Answered("recording a webhook")
}

// intakeError turns intake's error into the answer, counting it; an
// authentication failure is logged with its reason, never a secret.
func (s *Server) intakeError(c echo.Context, src *intake.Source, err error) error {
	var ie *intake.Error
	if !errors.As(err, &ie) {
		return err
	}
	retry := ""
	var ae *apiError
	switch ie.Kind {
	case intake.Unauthorized:
		s.metrics.AuthFails.WithLabelValues(src.Name, ie.Reason).Inc()
		// The reason is the whole cause: logged once, as reason.
		ae = &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: ie.Msg, reason: ie.Reason, scheme: ie.Scheme}
	case intake.Malformed:
		ae = &apiError{Status: http.StatusBadRequest, Code: "malformed", Message: ie.Msg}
	case intake.Unprocessable:
		ae = &apiError{Status: http.StatusUnprocessableEntity, Code: "unprocessable", Message: ie.Msg}
	case intake.StoreFailed:
		s.log.Error("the store refused an event with an error a retry will not cure; see the cause", zap.String("source", src.Name), zap.Error(ie.Err))
		s.count(src, "store_error")
		return &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: ie.Msg, Err: ie.Err}
	case intake.QueueFull:
		retry, ae = "30", &apiError{Status: http.StatusServiceUnavailable, Code: "queue_full", Message: ie.Msg, Err: ie.Err}
	case intake.StoreFull:
		retry, ae = "60", &apiError{Status: http.StatusServiceUnavailable, Code: "store_full", Message: ie.Msg, Err: ie.Err}
	default:
		retry, ae = "10", &apiError{Status: http.StatusServiceUnavailable, Code: "store_unavailable", Message: ie.Msg, Err: ie.Err}
	}
	if retry != "" {
		c.Response().Header().Set("Retry-After", retry)
		s.count(src, "store_error")
		if ie.Kind != intake.QueueFull {
			s.storeDown.Failed("recording a webhook", ie.Err)
		}
	} else {
		s.count(src, ae.Code)
	}
	return ae
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
