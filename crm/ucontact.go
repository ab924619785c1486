package crm

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The ucontact kind receives uContact's own event-notification webhooks
// (Automations → Functions), not CRM triggers: they tell what became of a
// call dialhook placed. uContact signs nothing and documents no retry
// policy, so the secret travels as the admin configures it: the
// X-Dialhook-Token header or ?token= in the URL (masked wherever the
// request is kept or shown).
//
// The events and their fields, from uContact's "Webhooks for Event
// Notification" (https://docs.ucontactcloud.com/developer/webhooks-notifications.html):
// every body has "event" and "date"; AgentRingNoAnswer (agent, agentNumber,
// agentFullName, callerIdNum, campaign), AgentLog (agent, isLogin),
// AgentBreak (agent, motive, isBreak), FinishInteraction (guid, campaign,
// agent, …), InteractionDisposition (fields unconfirmed). The published
// examples' "date" is malformed (the month slot repeats the minutes:
// "2023-48-13 06:48:51"): it is parsed leniently, kept raw, and the receive
// time is what dialhook records.

type ucontactAdapter struct{ base }

func newUContact(cfg Config, need bool, bad problemf) Adapter {
	needSecret(cfg, need, bad, "the token uContact sends, in the X-Dialhook-Token header or ?token= of the URL you configure in uContact")
	return &ucontactAdapter{base{cfg, Dialect{RejectStatus: 200}}}
}

func (a *ucontactAdapter) Preset() map[string]any { return map[string]any{} }

// Authenticate checks the token (header, else query parameter).
func (a *ucontactAdapter) Authenticate(r *Request) error {
	if a.cfg.Secret == "" {
		return nil // allow_unauthenticated (New refuses it otherwise)
	}
	return checkToken(a.cfg.Secret, r.Header.Get(tokenHeader), queryValue(r, "token"))
}

// Scheme implements Adapter.
func (a *ucontactAdapter) Scheme(*Request) string {
	return "shared token (X-Dialhook-Token or ?token=)"
}

// Parse implements Adapter: a uContact event carries no call to place.
func (a *ucontactAdapter) Parse(*Request) (*Batch, error) {
	return &Batch{Ignored: "uContact event (read by ParseUContact)"}, nil
}

// UContactEvent is one uContact event notification.
type UContactEvent struct {
	Type    string    // the "event" field: FinishInteraction, …
	RawDate string    // "date" as sent
	Date    time.Time // "date" when it reads as a date; zero when malformed
	GUID    string    // "guid" (FinishInteraction, InteractionDisposition)
	Agent   string    // "agent"
	// Fields are every field uContact sent but event and date, bounded:
	// at most UContactMaxKeys keys (by name) and UContactMaxBytes of JSON.
	Fields map[string]any
}

// Bounds of UContactEvent.Fields.
const (
	UContactMaxKeys  = 32
	UContactMaxBytes = 4 << 10
)

// ParseUContact reads a uContact event notification body.
func ParseUContact(body []byte) (UContactEvent, error) {
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return UContactEvent{}, malformed("a uContact event must be a JSON object with \"event\" and \"date\"")
	}
	ev := UContactEvent{Type: ucStr(raw["event"]), RawDate: ucStr(raw["date"]), GUID: strings.ToLower(ucStr(raw["guid"])), Agent: ucStr(raw["agent"])}
	if ev.Type == "" {
		return UContactEvent{}, malformed(`a uContact event needs "event" (FinishInteraction, InteractionDisposition, AgentRingNoAnswer, …)`)
	}
	ev.Date, _ = time.Parse(time.DateTime, ev.RawDate) // lenient: the published examples' dates do not parse
	delete(raw, "event")
	delete(raw, "date")
	ev.Fields = bounded(raw)
	return ev, nil
}

func ucStr(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

// bounded keeps at most UContactMaxKeys fields, by name, while their JSON
// stays within UContactMaxBytes; a value that would not fit is left out.
func bounded(m map[string]any) map[string]any {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	out := map[string]any{}
	size := 2
	for _, k := range names {
		if len(out) == UContactMaxKeys {
			break
		}
		b, err := json.Marshal(map[string]any{k: m[k]})
		if err != nil || size+len(b)-1 > UContactMaxBytes {
			continue
		}
		out[k], size = m[k], size+len(b)-1
	}
	return out
}
