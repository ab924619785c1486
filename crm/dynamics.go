package crm

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"dialhook/mapping"
)

type dynamicsAdapter struct{ base }

// newDynamics checks a dynamics source's credentials.
func newDynamics(cfg Config, need bool, bad problemf) Adapter {
	if cfg.Secret == "" && len(cfg.AuthHeaders) == 0 && len(cfg.AuthQuery) == 0 && need {
		bad("kind dynamics needs secret (the WebhookKey sent as ?code=), auth_headers or auth_query")
	}
	for k, v := range cfg.AuthHeaders {
		if k == "" || v == "" {
			bad("kind dynamics: auth_headers entry %q needs a name and a value", k)
		}
	}
	for k, v := range cfg.AuthQuery {
		if k == "" || v == "" {
			bad("kind dynamics: auth_query entry %q needs a name and a value", k)
		}
	}
	return &dynamicsAdapter{base{cfg, Dialect{RejectStatus: 200}}}
}

// Preset routes by the owner's id (ownerid.Id); use ownerid.Name to key
// routes by the user's name instead.
func (a *dynamicsAdapter) Preset() map[string]any {
	return map[string]any{
		"destination": []any{"mobilephone", "telephone1"},
		"owner":       []any{"ownerid.Id"},
	}
}

// credentialParam reports the query parameters that carry credentials:
// the WebhookKey (?code=) and the HttpQueryString keys.
func (a *dynamicsAdapter) credentialParam(k string) bool {
	_, ok := a.cfg.AuthQuery[k]
	return ok || k == "code"
}

// Authenticate checks every configured credential: WebhookKey (?code=),
// each HttpHeader and each HttpQueryString value.
func (a *dynamicsAdapter) Authenticate(r *Request) error {
	configured := a.cfg.Secret != "" || len(a.cfg.AuthHeaders) > 0 || len(a.cfg.AuthQuery) > 0
	if !configured {
		if a.cfg.AllowUnauthenticated {
			return nil
		}
		return authErr("no credentials configured")
	}
	q := query(r)
	ok, missing := true, true
	check := func(got, want string) {
		if got != "" {
			missing = false
		}
		ok = equalConst(got, want) && ok
	}
	if a.cfg.Secret != "" {
		check(q.Get("code"), a.cfg.Secret)
	}
	for k, v := range a.cfg.AuthHeaders {
		check(r.Header.Get(k), v)
	}
	for k, v := range a.cfg.AuthQuery {
		check(q.Get(k), v)
	}
	switch {
	case missing:
		return authErr("missing credentials")
	case !ok:
		return authErr("bad credentials")
	}
	return nil
}

const dynamicsTooLarge = "Dataverse stripped InputParameters because the message exceeded 256 KB; " +
	"register the step with fewer attributes / filtering attributes"

// Scheme implements Adapter.
func (a *dynamicsAdapter) Scheme(*Request) string {
	return "Dataverse webhook credentials (WebhookKey ?code=, auth_headers, auth_query)"
}

func (a *dynamicsAdapter) Parse(r *Request) (*Batch, error) {
	if err := checkJSON(r.Body, "object"); err != nil {
		return nil, err // a RemoteExecutionContext is an object
	}
	root := gjson.ParseBytes(r.Body)
	message := str(root.Get("MessageName"))
	if strings.EqualFold(message, "Delete") {
		return &Batch{Ignored: "dynamics delete event"}, nil
	}
	var target gjson.Result
	for _, p := range root.Get("InputParameters").Array() {
		if str(p.Get("key")) == "Target" {
			target = p.Get("value")
			break
		}
	}
	if !target.IsObject() {
		if r.Header.Get("x-ms-dynamics-msg-size-exceeded") != "" {
			return nil, unprocessable(dynamicsTooLarge)
		}
		return nil, unprocessable("no Target entity in InputParameters; register the step on a message that carries one (Create, Update)")
	}
	rec := map[string]any{}
	// Post-images fill attributes an Update's Target lacks (it only holds
	// the changed ones); the Target wins where both have a value.
	for _, img := range root.Get("PostEntityImages").Array() {
		dynamicsAttributes(img.Get("value.Attributes"), rec)
	}
	if attrs := target.Get("Attributes"); attrs.IsArray() {
		dynamicsAttributes(attrs, rec)
	} else {
		// An EntityReference target (e.g. Assign): only the reference.
		for _, k := range []string{"Id", "LogicalName", "Name"} {
			if v := target.Get(k); v.Exists() {
				rec[k] = json.RawMessage(v.Raw)
			}
		}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, malformed("attributes cannot be converted to JSON")
	}
	ev := newEvent(&a.cfg, r, b, bodyHash(r, r.Body, a.credentialParam))
	ev.ObjectType = str(root.Get("PrimaryEntityName"))
	ev.RecordID = firstUsableID(str(root.Get("PrimaryEntityId")), str(target.Get("Id")))
	ev.Action = message
	ev.DedupKey = dynamicsDedupKey(r, root, ev.RecordID, message, ev.BodyHash)
	return &Batch{Events: []mapping.Event{ev}}, nil
}

// dynamicsDedupKey picks the first id that names this request and no other:
//
//  1. the x-request-id header;
//  2. OperationId: "the global unique identifier of the related System
//     Job" (RemoteExecutionContext.OperationId,
//     https://learn.microsoft.com/en-us/previous-versions/dynamicscrm-2016/developers-guide/gg327064(v=crm.8)).
//     A synchronous step runs without a System Job, so its OperationId is
//     all zeros: two leads created by the same synchronous step would share
//     it;
//  3. the record id and message with the request's correlation ids:
//     RequestId, "the GUID of the request being processed by the event
//     execution pipeline" (IExecutionContext.RequestId,
//     https://learn.microsoft.com/en-us/previous-versions/dynamicscrm-2015/developers-guide/gg326856(v=crm.7)),
//     null in the documented asynchronous sample
//     (https://learn.microsoft.com/power-apps/developer/data-platform/use-webhooks,
//     "Use webhooks to create external handlers for server events");
//     CorrelationId, "the GUID for tracking plug-in or custom workflow
//     activity execution", shared by every step of one operation
//     (https://learn.microsoft.com/en-us/dotnet/api/microsoft.xrm.sdk.iexecutioncontext.correlationid),
//     hence never used without the record id; OperationCorrelationId where a
//     sender includes it (it is not among the documented
//     RemoteExecutionContext members); and Depth, which tells apart a step
//     that a plug-in of the same operation triggers on the same record;
//  4. the request hash.
//
// A Dataverse retry resends the same context, so every choice keeps a
// retry's key; an all-zero GUID or a placeholder ("null", "") is never used.
func dynamicsDedupKey(r *Request, root gjson.Result, recordID, message, hash string) string {
	if id := r.Header.Get("x-request-id"); usableID(id) {
		return id
	}
	if id := str(root.Get("OperationId")); usableID(id) {
		return id
	}
	var corr []string
	for _, k := range []string{"RequestId", "OperationCorrelationId", "CorrelationId"} {
		if id := str(root.Get(k)); usableID(id) {
			corr = append(corr, k+"="+id)
		}
	}
	if recordID == "" || len(corr) == 0 {
		return hash
	}
	parts := append([]string{recordID, message}, corr...)
	if d := str(root.Get("Depth")); d != "" {
		parts = append(parts, "Depth="+d)
	}
	return strings.Join(parts, ":")
}

// usableID reports whether id can name an event: not empty, not a
// placeholder, not an all-zero GUID (Guid.Empty, with or without dashes or
// braces).
func usableID(id string) bool {
	id = strings.TrimSpace(id)
	switch strings.ToLower(id) {
	case "", "null", "none", "undefined", "nil":
		return false
	}
	for i := 0; i < len(id); i++ {
		switch id[i] {
		case '0', '-', '{', '}':
		default:
			return true
		}
	}
	return false // zeros and punctuation only
}

// firstUsableID returns the first usable id of ids, or "".
func firstUsableID(ids ...string) string {
	for _, id := range ids {
		if usableID(id) {
			return strings.TrimSpace(id)
		}
	}
	return ""
}

// dynamicsAttributes turns a [{key, value}] list into rec's keys.
func dynamicsAttributes(list gjson.Result, rec map[string]any) {
	for _, kv := range list.Array() {
		k := str(kv.Get("key"))
		if k == "" {
			continue
		}
		rec[k] = dynamicsValue(kv.Get("value"))
	}
}

// dynamicsValue simplifies Dataverse's serialized types: EntityReference →
// {Id, LogicalName, Name}; OptionSetValue and Money → their Value;
// "\/Date(ms)\/" → RFC 3339 UTC. Anything else is kept as sent.
func dynamicsValue(v gjson.Result) any {
	switch {
	case !v.Exists():
		return nil
	case v.Type == gjson.String:
		if t, ok := dynamicsDate(v.Str); ok {
			return t
		}
		return v.Str
	case v.IsObject():
		typ := str(v.Get("__type"))
		switch {
		case strings.HasPrefix(typ, "EntityReference:"):
			ref := map[string]any{}
			for _, k := range []string{"Id", "LogicalName", "Name"} {
				ref[k] = json.RawMessage(orNull(v.Get(k).Raw))
			}
			return ref
		case strings.HasPrefix(typ, "OptionSetValue:"), strings.HasPrefix(typ, "Money:"):
			return json.RawMessage(orNull(v.Get("Value").Raw))
		}
	}
	return json.RawMessage(v.Raw)
}

func orNull(raw string) string {
	if raw == "" {
		return "null"
	}
	return raw
}

var dynamicsDateRE = regexp.MustCompile(`^/Date\((-?\d{1,15})([+-]\d{4})?\)/$`)

// dynamicsDate converts "/Date(1732540000000)/" (optionally with a +hhmm
// suffix, which WCF writes for information only: the number is UTC) to RFC
// 3339 UTC.
func dynamicsDate(s string) (string, bool) {
	m := dynamicsDateRE.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	ms, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return "", false
	}
	return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano), true
}
