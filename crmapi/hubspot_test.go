package crmapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

var placedAt = time.Date(2026, 11, 27, 14, 3, 4, 872e6, time.FixedZone("UYT", -3*3600))

func placedCall(objectType, objectID string) HubSpotCall {
	return HubSpotCall{
		Timestamp:  placedAt,
		Title:      "Call to +598 99 765 432",
		Summary:    CallSummary{Agent: "maria", Destination: "+59899765432", GUID: "8cf8570e-60e7-44ed-b799-3baab211b04d"},
		Status:     HubSpotConnecting,
		ToNumber:   "+59899765432",
		FromNumber: "+59826000000",
		ObjectType: objectType,
		ObjectID:   objectID,
	}
}

// CreateCall posts the call's properties, OUTBOUND, and one association to
// the record with the HubSpot-defined call-to-object type id.
func TestHubSpotCreateCall(t *testing.T) {
	for _, tc := range []struct {
		objectType string
		typeID     int
	}{
		{"contact", 194}, {"contacts", 194}, {"0-1", 194},
		{"company", 182}, {"deal", 206}, {"Deals", 206}, {"0-3", 206}, {"ticket", 220},
	} {
		t.Run(tc.objectType, func(t *testing.T) {
			f := newFakeCRM(t, http.StatusCreated, `{"id":"9001","properties":{},"archived":false}`, nil)
			h := &HubSpot{BaseURL: f.URL, Token: hubspotToken}
			id, err := h.CreateCall(context.Background(), placedCall(tc.objectType, "501"))
			if err != nil || id != "9001" {
				t.Fatalf("CreateCall = %q, %v", id, err)
			}
			r := f.only(t)
			if r.Method != http.MethodPost || r.Path != "/crm/v3/objects/calls" {
				t.Errorf("%s %s", r.Method, r.Path)
			}
			checkHeaders(t, r, "Authorization", "Bearer "+hubspotToken)
			sameJSON(t, r.Body, fmt.Sprintf(`{
				"properties": {
					"hs_timestamp": "2026-11-27T17:03:04.872Z",
					"hs_call_title": "Call to +598 99 765 432",
					"hs_call_body": "Agent: maria<br>Destination: +59899765432<br>uContact call GUID: 8cf8570e-60e7-44ed-b799-3baab211b04d",
					"hs_call_direction": "OUTBOUND",
					"hs_call_status": "CONNECTING",
					"hs_call_to_number": "+59899765432",
					"hs_call_from_number": "+59826000000"
				},
				"associations": [{"to": {"id": "501"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": %d}]}]
			}`, tc.typeID))
		})
	}
}

// UpdateCall patches only what is set: the outcome, never the association
// or the direction.
func TestHubSpotUpdateCall(t *testing.T) {
	f := newFakeCRM(t, http.StatusOK, `{"id":"9001","properties":{}}`, nil)
	h := &HubSpot{BaseURL: f.URL + "/", Token: hubspotToken}
	err := h.UpdateCall(context.Background(), "9001", HubSpotCall{
		Status:      HubSpotCompleted,
		Summary:     CallSummary{Agent: "maria", Destination: "+59899765432", GUID: "g-1", Outcome: "Sale <won> & closed"},
		Duration:    93*time.Second + 400*time.Millisecond,
		Disposition: HubSpotOutcomeConnected,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := f.only(t)
	if r.Method != http.MethodPatch || r.Path != "/crm/v3/objects/calls/9001" {
		t.Errorf("%s %s", r.Method, r.Path)
	}
	checkHeaders(t, r, "Authorization", "Bearer "+hubspotToken)
	sameJSON(t, r.Body, `{"properties": {
		"hs_call_status": "COMPLETED",
		"hs_call_body": "Agent: maria<br>Destination: +59899765432<br>uContact call GUID: g-1<br>Outcome: Sale &lt;won&gt; &amp; closed",
		"hs_call_duration": "93400",
		"hs_call_disposition": "f240bbac-87c9-4f6e-bf70-924b57d47db7"
	}}`)
}

// What HubSpot would refuse is refused before anything is sent, and trying
// again cannot help.
func TestHubSpotRefusesBadCalls(t *testing.T) {
	f := newFakeCRM(t, http.StatusCreated, `{"id":"1"}`, nil)
	h := &HubSpot{BaseURL: f.URL, Token: hubspotToken}
	ctx := context.Background()
	noTime := placedCall("contact", "501")
	noTime.Timestamp = time.Time{}
	badStatus := placedCall("contact", "501")
	badStatus.Status = "ANSWERED"
	for name, call := range map[string]func() error{
		"no timestamp":   func() error { _, err := h.CreateCall(ctx, noTime); return err },
		"unknown object": func() error { _, err := h.CreateCall(ctx, placedCall("line_item", "501")); return err },
		"no record id":   func() error { _, err := h.CreateCall(ctx, placedCall("contact", "")); return err },
		"id with slash":  func() error { _, err := h.CreateCall(ctx, placedCall("contact", "5/../1")); return err },
		"bad status":     func() error { _, err := h.CreateCall(ctx, badStatus); return err },
		"no call id":     func() error { return h.UpdateCall(ctx, "", HubSpotCall{Status: HubSpotCompleted}) },
		"nothing to set": func() error { return h.UpdateCall(ctx, "9001", HubSpotCall{}) },
	} {
		err := call()
		var ae *Error
		if !errors.As(err, &ae) || ae.Retryable || ae.CRM != "hubspot" {
			t.Errorf("%s: %#v, want a non-retryable *Error", name, err)
		}
	}
	if n := f.count(); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// HubSpot's default base URL is its API root.
func TestHubSpotDefaultBaseURL(t *testing.T) {
	h := &HubSpot{Token: hubspotToken}
	r := h.request(http.MethodPost, "/crm/v3/objects/calls", nil, "")
	if r.url != "https://api.hubapi.com/crm/v3/objects/calls" {
		t.Errorf("url %q", r.url)
	}
	if !strings.HasPrefix(r.header.Get("Authorization"), "Bearer ") {
		t.Errorf("header %v", r.header)
	}
}
