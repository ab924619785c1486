// Package crmapi calls the CRMs' own REST APIs: for what their webhooks do
// not carry (Close lead events carry contact ids, not phone numbers), and to
// log the call dialhook placed back on the record (a HubSpot call
// engagement, a Pipedrive call activity).
//
// It is called by the dispatcher and the write-back delivery, never in a
// webhook's answer path. Every failure is a *Error that says whether trying
// again can help. API keys and tokens never appear in an error.
//
// It must not import any dialhook package: it knows HTTP and the CRMs'
// APIs, nothing of events or the store.
package crmapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// CloseBaseURL is Close's API root.
const CloseBaseURL = "https://api.close.com"

// maxAnswer bounds how much of an answer is read.
const maxAnswer = 4 << 20

// Error is a failed API call.
type Error struct {
	CRM        string
	Status     int           // HTTP status; 0 when no answer came
	Retryable  bool          // 429, 5xx, or no answer: trying again later can help
	RetryAfter time.Duration // from the answer's Retry-After, when given
	Msg        string
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("%s API: %s", e.CRM, e.Msg)
	}
	return fmt.Sprintf("%s API: HTTP %d: %s", e.CRM, e.Status, e.Msg)
}

// Close reads leads from Close's API.
type Close struct {
	BaseURL string       // default CloseBaseURL
	HTTP    *http.Client // default: a client with a 15s timeout
}

// LeadContacts returns the "contacts" array of a lead (each contact with
// its phones), fetched with GET /api/v1/lead/{id}/?_fields=contacts.
// Close authenticates API keys with HTTP Basic: the key as the user, an
// empty password (https://developer.close.com/api/overview/authentication;
// the lead resource: https://developer.close.com/api/resources/leads).
func (c *Close) LeadContacts(ctx context.Context, apiKey, leadID string) (json.RawMessage, error) {
	if leadID == "" || strings.ContainsAny(leadID, "/?#%") {
		return nil, &Error{CRM: "close", Msg: fmt.Sprintf("bad lead id %q", leadID)}
	}
	base := c.BaseURL
	if base == "" {
		base = CloseBaseURL
	}
	u := strings.TrimRight(base, "/") + "/api/v1/lead/" + url.PathEscape(leadID) + "/?_fields=id,contacts"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &Error{CRM: "close", Msg: "bad base URL"}
	}
	req.SetBasicAuth(apiKey, "")
	req.Header.Set("Accept", "application/json")
	body, err := c.do(req)
	if err != nil {
		return nil, err
	}
	contacts := gjson.GetBytes(body, "contacts")
	if !contacts.IsArray() {
		return nil, &Error{CRM: "close", Status: http.StatusOK, Msg: "the lead has no contacts array"}
	}
	return json.RawMessage(contacts.Raw), nil
}

func (c *Close) do(req *http.Request) ([]byte, error) {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		// Never the URL or the key: only what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, &Error{CRM: "close", Retryable: true, Msg: "no answer: " + err.Error()}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, &Error{CRM: "close", Status: resp.StatusCode, Retryable: true, Msg: "answer cut short"}
	}
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		if !json.Valid(body) {
			return nil, &Error{CRM: "close", Status: s, Msg: "the answer is not JSON"}
		}
		return body, nil
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return nil, &Error{CRM: "close", Status: s, Msg: "the API key was refused: check sources.NAME.api_key (a Close API key with read access to leads)"}
	case s == http.StatusNotFound:
		return nil, &Error{CRM: "close", Status: s, Msg: "no such lead (deleted, or not visible to this API key)"}
	case s == http.StatusTooManyRequests || s >= 500 || s == http.StatusRequestTimeout:
		e := &Error{CRM: "close", Status: s, Retryable: true, Msg: http.StatusText(s)}
		if ra, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && ra > 0 {
			e.RetryAfter = time.Duration(ra) * time.Second
		}
		return nil, e
	default:
		return nil, &Error{CRM: "close", Status: s, Msg: http.StatusText(s)}
	}
}
