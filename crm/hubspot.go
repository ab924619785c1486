package crm

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"dialhook/mapping"
)

// hubspotMaxEvents bounds a subscription batch (HubSpot sends under 100).
const hubspotMaxEvents = 1000

type hubspotAdapter struct{ base }

// newHubSpot checks a hubspot source's client secret. HubSpot workflows do
// not retry 4xx and subscriptions retry every 4xx; neither helps with a
// mapping rejection, so it is answered 200.
func newHubSpot(cfg Config, need bool, bad problemf) Adapter {
	needSecret(cfg, need, bad, "the app's client secret")
	return &hubspotAdapter{base{cfg, Dialect{RejectStatus: 200}}}
}

func (a *hubspotAdapter) Preset() map[string]any {
	return map[string]any{
		"destination": []any{"properties.mobilephone.value", "properties.phone.value"},
		"owner":       "properties.hubspot_owner_id.value",
		"id":          map[string]any{"template": "{{$record_id}}:{{$body_hash}}"},
	}
}

// Authenticate verifies X-HubSpot-Signature-v3 when present, else the v2 or
// v1 X-HubSpot-Signature. Only v3 signs a timestamp; v1/v2 cannot detect a
// replay.
func (a *hubspotAdapter) Authenticate(r *Request) error {
	if a.cfg.Secret == "" && a.cfg.AllowUnauthenticated {
		return nil
	}
	if sig := r.Header.Get("X-HubSpot-Signature-v3"); sig != "" {
		ts := r.Header.Get("X-HubSpot-Request-Timestamp")
		if ts == "" {
			return authErr("missing header")
		}
		mac, err := timestampedMAC(r, []byte(a.cfg.Secret), ts, time.Millisecond, a.cfg.ClockSkew,
			[]byte(r.Method), []byte(hubspotDecodeURI(a.signedURI(r))), r.Body, []byte(ts))
		if err != nil {
			return err
		}
		if !equalConst(strings.TrimSpace(sig), base64.StdEncoding.EncodeToString(mac)) {
			return authErr("bad signature")
		}
		return nil
	}
	sig := strings.ToLower(strings.TrimSpace(r.Header.Get("X-HubSpot-Signature")))
	if sig == "" {
		return authErr("missing header")
	}
	var ok bool
	switch v := strings.ToLower(r.Header.Get("X-HubSpot-Signature-Version")); v {
	case "v1":
		ok = equalConst(sig, hubspotV1(a.cfg.Secret, r.Body))
	case "v2":
		ok = equalConst(sig, hubspotV2(a.cfg.Secret, r.Method, a.signedURI(r), r.Body))
	case "":
		// Version header lost: either version proves the same secret.
		ok1 := equalConst(sig, hubspotV1(a.cfg.Secret, r.Body))
		ok2 := equalConst(sig, hubspotV2(a.cfg.Secret, r.Method, a.signedURI(r), r.Body))
		ok = ok1 || ok2
	default:
		return authErr("unsupported signature version")
	}
	if !ok {
		return authErr("bad signature")
	}
	return nil
}

// Scheme implements Adapter: the signature version the request carries,
// and the URL it was checked against (v2, v3 sign it).
func (a *hubspotAdapter) Scheme(r *Request) string {
	switch {
	case r.Header.Get("X-HubSpot-Signature-v3") != "":
		return "HubSpot v3 signature over " + a.signedURI(r)
	case r.Header.Get("X-HubSpot-Signature") != "":
		v := r.Header.Get("X-HubSpot-Signature-Version")
		if v == "" {
			v = "v1/v2"
		}
		return "HubSpot " + v + " signature (v2 over " + a.signedURI(r) + ")"
	}
	return "HubSpot signature (no X-HubSpot-Signature header)"
}

func hubspotV1(secret string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(secret))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

func hubspotV2(secret, method, uri string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(secret))
	h.Write([]byte(method))
	h.Write([]byte(uri))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// hubspotV3Escapes are the only escapes HubSpot decodes before signing v3.
var hubspotV3Escapes = strings.NewReplacer(
	"%3A", ":", "%2F", "/", "%3F", "?", "%40", "@", "%21", "!", "%24", "$",
	"%27", "'", "%28", "(", "%29", ")", "%2A", "*", "%2C", ",", "%3B", ";",
	"%3a", ":", "%2f", "/", "%3f", "?", "%2a", "*", "%2c", ",", "%3b", ";",
)

func hubspotDecodeURI(uri string) string {
	if !strings.Contains(uri, "%") {
		return uri
	}
	return hubspotV3Escapes.Replace(uri)
}

// signedURI rebuilds the URL HubSpot called: from the configured public base
// URL, else from trusted X-Forwarded-* headers, else from what the server saw.
// A proxy or ngrok in front changes scheme and host, and HubSpot signs the
// public URL, so trusting Host blindly would fail every signature.
func (a *hubspotAdapter) signedURI(r *Request) string {
	var path, query string
	if r.URL != nil {
		path, query = r.URL.EscapedPath(), r.URL.RawQuery
	}
	var base string
	switch {
	case a.cfg.PublicBaseURL != "":
		if u, err := url.Parse(a.cfg.PublicBaseURL); err == nil {
			base = u.Scheme + "://" + u.Host + strings.TrimSuffix(u.EscapedPath(), "/")
		}
	default:
		scheme, host := "http", r.Host
		if r.TLS {
			scheme = "https"
		}
		if host == "" && r.URL != nil {
			host = r.URL.Host
		}
		if a.cfg.TrustProxy {
			if p := firstCSV(r.Header.Get("X-Forwarded-Proto")); p != "" {
				scheme = strings.ToLower(p)
			}
			if h := firstCSV(r.Header.Get("X-Forwarded-Host")); h != "" {
				host = h
			}
		}
		base = scheme + "://" + host
	}
	uri := base + path
	if query != "" {
		uri += "?" + query
	}
	return uri
}

func firstCSV(s string) string {
	s, _, _ = strings.Cut(s, ",")
	return strings.TrimSpace(s)
}

// Parse accepts a workflow webhook (one object) or a subscription batch (an
// array of events).
func (a *hubspotAdapter) Parse(r *Request) (*Batch, error) {
	if err := checkJSON(r.Body, "object", "array"); err != nil {
		return nil, err
	}
	body := bytes.TrimLeft(r.Body, " \t\r\n")
	if body[0] == '[' {
		return a.parseSubscriptions(r, body)
	}
	return a.parseWorkflow(r), nil
}

func (a *hubspotAdapter) parseWorkflow(r *Request) *Batch {
	ev := newEvent(&a.cfg, r, r.Body, bodyHash(r, r.Body, nil))
	if gjson.GetBytes(r.Body, "is-contact").Bool() {
		ev.ObjectType = "contact"
	}
	ev.RecordID = firstStr(r.Body, "vid", "properties.hs_object_id.value", "objectId", "id")
	return &Batch{Events: []mapping.Event{ev}}
}

func (a *hubspotAdapter) parseSubscriptions(r *Request, body []byte) (*Batch, error) {
	elems := gjson.ParseBytes(body).Array()
	if len(elems) == 0 {
		return nil, malformed("empty event array")
	}
	if len(elems) > hubspotMaxEvents {
		return nil, malformed(fmt.Sprintf("more than %d events", hubspotMaxEvents))
	}
	b := &Batch{Events: make([]mapping.Event, 0, len(elems))}
	for i, e := range elems {
		if !e.IsObject() {
			return nil, malformed(fmt.Sprintf("event %d is not an object", i))
		}
		raw := []byte(e.Raw)
		eventID := str(e.Get("eventId"))
		if eventID == "" {
			return nil, malformed(fmt.Sprintf("event %d has no eventId", i))
		}
		ev := newEvent(&a.cfg, r, raw, bodyHash(r, raw, nil))
		ev.DedupKey = strings.Join([]string{
			str(e.Get("portalId")), str(e.Get("subscriptionId")), eventID, str(e.Get("occurredAt")),
		}, ":")
		typ, action, _ := strings.Cut(str(e.Get("subscriptionType")), ".")
		if typ == "object" {
			// A generic subscription (object.creation, ...) names the type
			// in objectTypeId instead.
			typ = hubspotObjectName(str(e.Get("objectTypeId")))
		}
		ev.ObjectType, ev.Action = typ, action
		ev.RecordID = str(e.Get("objectId"))
		b.Events = append(b.Events, ev)
	}
	return b, nil
}

// hubspotObjectName turns an objectTypeId into the object name the legacy
// subscription types use ("0-1" → "contact"), so that `when` and
// $object_type read the same for contact.creation and object.creation. The
// ids are HubSpot's documented list
// (https://developers.hubspot.com/docs/guides/crm/using-object-apis, "object
// type ID values"); generic webhooks send objectTypeId "in raw ID format
// (e.g., 0-1 for contacts)"
// (https://developers.hubspot.com/changelog/public-beta-generic-webhook-subscriptions).
// A custom object ("2-…") or an id not in the list keeps its id; an event
// without objectTypeId keeps "object".
func hubspotObjectName(id string) string {
	switch id {
	case "":
		return "object"
	case "0-1":
		return "contact"
	case "0-2":
		return "company"
	case "0-3":
		return "deal"
	case "0-5":
		return "ticket"
	case "0-7":
		return "product"
	case "0-8":
		return "line_item"
	case "0-14":
		return "quote"
	case "0-18":
		return "communication"
	case "0-19":
		return "feedback_submission"
	case "0-27":
		return "task"
	case "0-46":
		return "note"
	case "0-47":
		return "meeting"
	case "0-48":
		return "call"
	case "0-49":
		return "email"
	case "0-53":
		return "invoice"
	case "0-54":
		return "marketing_event"
	case "0-69":
		return "subscription"
	case "0-74":
		return "goal"
	case "0-84":
		return "discount"
	case "0-85":
		return "fee"
	case "0-86":
		return "tax"
	case "0-101":
		return "payment"
	case "0-115":
		return "user"
	case "0-116":
		return "postal_mail"
	case "0-123":
		return "order"
	case "0-136":
		return "lead"
	case "0-142":
		return "cart"
	case "0-162":
		return "service"
	case "0-410":
		return "course"
	case "0-420":
		return "listing"
	case "0-421":
		return "appointment"
	case "0-970":
		return "project"
	}
	return id
}
