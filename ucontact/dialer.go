package ucontact

// The two other ways of asking uContact for a call: Dialers/DialerTask
// (queue a lead in a dialer campaign; an agent who is free takes it) and
// Agents/AgentCallwithData (AgentCall plus data for the agent's screen).
// Both follow AgentCall's rules: typed errors, a 401 retried once after a
// login, a request that may have been sent never repeated.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/google/uuid"
)

const (
	dialerTaskPath        = "/Integra/resources/Dialers/DialerTask"
	agentCallWithDataPath = "/Integra/resources/Agents/AgentCallwithData"

	// CallDateLayout is DialerTask's calldate ("1900-01-01 00:00:00").
	CallDateLayout = "2006-01-02 15:04:05"
)

// ErrNoResource: uContact answered 404 to AgentCallwithData: the instance
// does not offer it. The call was not placed; AgentCall may be used
// instead.
var ErrNoResource = errors.New("resource not found (HTTP 404): this instance does not offer it")

// Task is the lead DialerTask queues: the JSON object sent as the form
// field "call". Every key is always present (uContact requires them all);
// the field order is the documented one.
type Task struct {
	// CallDate is when the dialer is to call, in CallDateLayout; nil (JSON
	// null) for as soon as an agent is free.
	CallDate     *string `json:"calldate"`
	Campaign     string  `json:"campaign"`
	Destination  string  `json:"destination"`
	Alternatives string  `json:"alternatives"`
	Agent        string  `json:"agent"` // an extension for one agent; "" for any
	Data         string  `json:"data"`
	Source       string  `json:"source"`
	Bulk         bool    `json:"bulk"`
	Automatic    bool    `json:"automatic"`
}

// Form encodes the task as DialerTask's form body: one field, call.
func (t Task) Form() (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "POWER<-" stays as written
	if err := enc.Encode(t); err != nil {
		return "", err
	}
	return url.Values{"call": {string(bytes.TrimSpace(b.Bytes()))}}.Encode(), nil
}

// DialerTask queues t in uContact's dialer and returns uContact's answer
// as it came, trimmed and cut to 200 bytes (credentials redacted): the
// documented answers are "0" for an error and otherwise not documented.
//
// "0" is ErrRejected; an empty 2xx answer is an *UnexpectedAnswerError
// (the lead may be queued); the other errors are AgentCall's.
func (c *Client) DialerTask(ctx context.Context, t Task) (string, error) {
	form, err := t.Form()
	if err != nil {
		return "", fmt.Errorf("ucontact: dialertask: %w", err)
	}
	body, tok, err := c.exchange(ctx, "dialertask", dialerTaskPath, form)
	if err != nil {
		return "", err
	}
	b := bytes.TrimSpace(body)
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = bytes.TrimSpace(b[1 : len(b)-1])
	}
	switch {
	case string(b) == "0":
		return "", fmt.Errorf("ucontact: dialertask: %w", ErrRejected)
	case len(b) == 0:
		return "", fmt.Errorf("ucontact: dialertask: %w", unexpected(http.StatusOK, body, c.secrets(tok)...))
	}
	return unexpected(http.StatusOK, b, c.secrets(tok)...).Body, nil
}

// AgentCallWithData is AgentCall through Agents/AgentCallwithData, with
// the extra form field data. A 404 is ErrNoResource: the instance does not
// offer it, and nothing was dialed.
func (c *Client) AgentCallWithData(ctx context.Context, p Params, data string) (uuid.UUID, error) {
	id, err := c.agentCall(ctx, "agentcallwithdata", agentCallWithDataPath, p, data)
	var ua *UnexpectedAnswerError
	if errors.As(err, &ua) && ua.Status == http.StatusNotFound {
		return uuid.Nil, fmt.Errorf("ucontact: agentcallwithdata: %w", ErrNoResource)
	}
	return id, err
}
