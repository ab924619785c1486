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

type dynamicsAdapter struct{ cfg Config }

func (a *dynamicsAdapter) Kind() string { return "dynamics" }

// Dialect: Dataverse only reads the status and retries once on 502-504; a
// 4xx would just fill its System Jobs with failures.
func (a *dynamicsAdapter) Dialect() Dialect { return Dialect{RejectStatus: 200} }

// Preset routes by the owner's id (ownerid.Id); use ownerid.Name to key
// routes by the user's name instead.
func (a *dynamicsAdapter) Preset() map[string]any {
	return map[string]any{
		"destination": []any{"mobilephone", "telephone1"},
		"owner":       []any{"ownerid.Id"},
	}
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

func (a *dynamicsAdapter) Parse(r *Request) (*Batch, error) {
	if !jsonObject(r.Body) {
		return nil, malformed("body must be a JSON object (a RemoteExecutionContext)")
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
	ev := newEvent(&a.cfg, r, b, hashHex(r.Body))
	ev.ObjectType = str(root.Get("PrimaryEntityName"))
	ev.RecordID = str(root.Get("PrimaryEntityId"))
	if ev.RecordID == "" {
		ev.RecordID = str(target.Get("Id"))
	}
	ev.Action = message
	ev.DedupKey = r.Header.Get("x-request-id")
	if ev.DedupKey == "" {
		ev.DedupKey = str(root.Get("OperationId"))
	}
	return &Batch{Events: []mapping.Event{ev}}, nil
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
