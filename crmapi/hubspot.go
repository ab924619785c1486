package crmapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// HubSpot's calls API, as its docs describe it:
//
//   - The calls guide, https://developers.hubspot.com/docs/api-reference/legacy/crm/activities/calls/guide
//     (also at https://developers.hubspot.com/docs/guides/api/crm/engagements/calls):
//     POST /crm/v3/objects/calls with a "properties" object and an
//     "associations" array; PATCH /crm/v3/objects/calls/{callId} with the
//     properties to change. hs_timestamp is required ("a Unix timestamp in
//     milliseconds or UTC format"); hs_call_title, hs_call_body,
//     hs_call_direction (INBOUND or OUTBOUND: OUTBOUND when the user placed
//     the call), hs_call_status (BUSY, CALLING_CRM_USER, CANCELED, COMPLETED,
//     CONNECTING, FAILED, IN_PROGRESS, NO_ANSWER, QUEUED, RINGING),
//     hs_call_to_number, hs_call_from_number, hs_call_duration
//     (milliseconds), hs_call_disposition (an outcome's GUID; the defaults
//     are the HubSpotOutcome constants), hubspot_owner_id. An association is
//     {"to": {"id": …}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
//     "associationTypeId": …}]}; its example associates a call with a
//     contact (194) and a ticket (220).
//   - The association type ids, https://developers.hubspot.com/docs/api-reference/legacy/crm/associations/associate-records/guide
//     ("Call to object"): call to company 182, to contact 194, to deal 206,
//     to ticket 220; the same in HubSpot's own Node client
//     (github.com/HubSpot/hubspot-api-nodejs src/enums/AssociationTypes.ts).
//   - Scopes: the calls guide's "Scope requirements" lists
//     crm.objects.contacts.read and crm.objects.contacts.write
//     (https://developers.hubspot.com/docs/api-reference/latest/crm/activities/calls/guide).
//   - Errors are JSON with a human-readable "message"
//     (https://developers.hubspot.com/docs/faq/api-error-responses).
//
// HubSpot now also serves these under date-versioned paths
// (/crm/objects/2026-03/calls); the v3 paths are the ones documented with
// every field above.

// HubSpotBaseURL is HubSpot's API root.
const HubSpotBaseURL = "https://api.hubapi.com"

// hs_call_status values HubSpot accepts.
const (
	HubSpotBusy           = "BUSY"
	HubSpotCallingCRMUser = "CALLING_CRM_USER"
	HubSpotCanceled       = "CANCELED"
	HubSpotCompleted      = "COMPLETED"
	HubSpotConnecting     = "CONNECTING"
	HubSpotFailed         = "FAILED"
	HubSpotInProgress     = "IN_PROGRESS"
	HubSpotNoAnswer       = "NO_ANSWER"
	HubSpotQueued         = "QUEUED"
	HubSpotRinging        = "RINGING"
)

// HubSpot's default call outcomes (hs_call_disposition); an account may
// define its own, with their own GUIDs.
const (
	HubSpotOutcomeBusy            = "9d9162e7-6cf3-4944-bf63-4dff82258764"
	HubSpotOutcomeConnected       = "f240bbac-87c9-4f6e-bf70-924b57d47db7"
	HubSpotOutcomeLeftLiveMessage = "a4c4c377-d246-4b32-a13b-75a56a4cd0ff"
	HubSpotOutcomeLeftVoicemail   = "b2cf5968-551e-4856-9783-52b3da59a7d0"
	HubSpotOutcomeNoAnswer        = "73a0d17f-1163-4015-bdd5-ec830791da20"
	HubSpotOutcomeWrongNumber     = "17b47fee-58de-441e-a44c-c6300d46f273"
)

// hubspotCallTo maps the object a call is logged on to the HubSpot-defined
// call-to-object association type id. Singular and plural names and the
// object type ids ("0-1"…) are all accepted: webhooks carry any of them.
var hubspotCallTo = map[string]int{
	"contact": 194, "contacts": 194, "0-1": 194,
	"company": 182, "companies": 182, "0-2": 182,
	"deal": 206, "deals": 206, "0-3": 206,
	"ticket": 220, "tickets": 220, "0-5": 220,
}

// HubSpot logs calls on HubSpot records with a private app's access token.
type HubSpot struct {
	BaseURL string       // default HubSpotBaseURL
	Token   string       // the private app's access token, sent as Authorization: Bearer
	Client  *http.Client // default: a client with a 15s timeout
}

// HubSpotCall is a call engagement. CreateCall sends every field that is
// set (Timestamp, ObjectType and ObjectID are required); UpdateCall sends
// only the set ones, and never the association or direction.
type HubSpotCall struct {
	Timestamp   time.Time     // hs_timestamp: when the call was placed
	Title       string        // hs_call_title
	Summary     CallSummary   // hs_call_body; an update replaces the whole body
	Status      string        // hs_call_status: one of the HubSpot* status constants
	ToNumber    string        // hs_call_to_number: the number dialed
	FromNumber  string        // hs_call_from_number
	Duration    time.Duration // hs_call_duration, sent in milliseconds; 0: not sent
	Disposition string        // hs_call_disposition: an outcome GUID
	OwnerID     string        // hubspot_owner_id: the user shown as the call's creator

	ObjectType string // the record the call is logged on: contact, company, deal or ticket
	ObjectID   string // its record id
}

// CreateCall logs an outbound call on the record and returns the call's id.
// When no answer came, or only part of one, HubSpot may have created the
// call anyway: trying again may log it twice.
func (h *HubSpot) CreateCall(ctx context.Context, c HubSpotCall) (string, error) {
	if c.Timestamp.IsZero() {
		return "", badInput("hubspot", "a call needs its timestamp")
	}
	typeID, ok := hubspotCallTo[strings.ToLower(c.ObjectType)]
	if !ok {
		return "", badInput("hubspot", "cannot log a call on a %q record (contact, company, deal or ticket)", c.ObjectType)
	}
	if _, err := pathID("hubspot", c.ObjectType, c.ObjectID); err != nil {
		return "", err
	}
	props, err := c.properties()
	if err != nil {
		return "", err
	}
	props["hs_call_direction"] = "OUTBOUND"
	body := map[string]any{
		"properties": props,
		"associations": []any{map[string]any{
			"to":    map[string]string{"id": c.ObjectID},
			"types": []any{map[string]any{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": typeID}},
		}},
	}
	answer, status, err := send(ctx, h.request(http.MethodPost, "/crm/v3/objects/calls", body, ""))
	if err != nil {
		return "", err
	}
	id := gjson.GetBytes(answer, "id").String()
	if id == "" {
		return "", &Error{CRM: "hubspot", Status: status, Msg: "the answer carries no call id"}
	}
	return id, nil
}

// UpdateCall changes the call's set fields (typically Status, Summary with
// its Outcome, Duration, Disposition) when the outcome arrives.
func (h *HubSpot) UpdateCall(ctx context.Context, id string, c HubSpotCall) error {
	esc, err := pathID("hubspot", "call", id)
	if err != nil {
		return err
	}
	props, err := c.properties()
	if err != nil {
		return err
	}
	if len(props) == 0 {
		return badInput("hubspot", "nothing to update on call %s", id)
	}
	req := h.request(http.MethodPatch, "/crm/v3/objects/calls/"+esc, map[string]any{"properties": props},
		"no such call (deleted in HubSpot?)")
	_, _, err = send(ctx, req)
	return err
}

// properties are the call's set fields, as HubSpot's property strings.
func (c HubSpotCall) properties() (map[string]string, error) {
	if c.Status != "" && !validHubSpotStatus(c.Status) {
		return nil, badInput("hubspot", "%q is not a HubSpot call status", c.Status)
	}
	p := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			p[k] = v
		}
	}
	if !c.Timestamp.IsZero() {
		p["hs_timestamp"] = c.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	if c.Duration > 0 {
		p["hs_call_duration"] = strconv.FormatInt(c.Duration.Milliseconds(), 10)
	}
	set("hs_call_title", c.Title)
	set("hs_call_body", c.Summary.HTML())
	set("hs_call_status", c.Status)
	set("hs_call_to_number", c.ToNumber)
	set("hs_call_from_number", c.FromNumber)
	set("hs_call_disposition", c.Disposition)
	set("hubspot_owner_id", c.OwnerID)
	return p, nil
}

func validHubSpotStatus(s string) bool {
	switch s {
	case HubSpotBusy, HubSpotCallingCRMUser, HubSpotCanceled, HubSpotCompleted, HubSpotConnecting,
		HubSpotFailed, HubSpotInProgress, HubSpotNoAnswer, HubSpotQueued, HubSpotRinging:
		return true
	}
	return false
}

// request is a call to HubSpot; missing says what a 404 means ("": HubSpot's
// own message).
func (h *HubSpot) request(method, path string, body any, missing string) request {
	base := h.BaseURL
	if base == "" {
		base = HubSpotBaseURL
	}
	return request{
		crm: "hubspot", client: h.Client, method: method,
		url: strings.TrimRight(base, "/") + path, body: body,
		header: http.Header{"Authorization": {"Bearer " + h.Token}}, secret: h.Token,
		refused: hubspotRefused, missing: missing,
	}
}

func hubspotRefused(status int) string {
	if status == http.StatusUnauthorized {
		return "HubSpot refused the private-app token: check writeback.token (the private app's access token; it changes when rotated)"
	}
	return "HubSpot refused the private-app token: check that its private app has the crm.objects.contacts.write scope " +
		"(HubSpot's calls API asks for it) and can see the record"
}
