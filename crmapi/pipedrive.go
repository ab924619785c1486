package crmapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// Pipedrive's activities API, as its docs describe it:
//
//   - POST /v1/activities and PUT /v1/activities/{id} are deprecated in
//     favour of POST /api/v2/activities and PATCH /api/v2/activities/{id}
//     (announced 2025-04-14, https://developers.pipedrive.com/changelog/post/deprecation-of-selected-api-v1-endpoints),
//     and out of support since 2026-08-01
//     (https://developers.pipedrive.com/changelog/post/deprecated-apiv1-endpoints-become-out-of-support):
//     this client speaks v2 only.
//   - The v2 migration guide (https://pipedrive.readme.io/docs/pipedrive-api-v2-migration-guide):
//     booleans are true/false, not 1/0; only the /api/v2/ prefix works;
//     person_id is read-only, "set indirectly by adding a primary
//     participant": "participants": [{"person_id": 1, "primary": true}].
//   - The v2 add-activity body, as Pipedrive's own client declares it
//     (github.com/pipedrive/client-nodejs src/versions/v2/models/add-activity-request.ts):
//     subject, type, owner_id, deal_id, org_id, due_date, due_time,
//     duration, done (boolean), participants, note; the answer is
//     {"success": true, "data": {"id": …}}.
//   - Authentication: "The API token must be provided in the x-api-token
//     header for all requests" (https://pipedrive.readme.io/docs/core-api-concepts-authentication),
//     so the token is never in a URL.

// PipedriveBaseURL is Pipedrive's API root; a company's own root,
// https://COMPANY.pipedrive.com, works as well and is what Pipedrive's docs show.
const PipedriveBaseURL = "https://api.pipedrive.com"

// Pipedrive logs calls as Pipedrive activities with a user's API token.
type Pipedrive struct {
	BaseURL string       // the root, without /api/v2 (default PipedriveBaseURL)
	Token   string       // the user's personal API token, sent as x-api-token
	Client  *http.Client // default: a client with a 15s timeout
}

// PipedriveActivity is a call activity. At least one of PersonID, DealID
// and OrgID names the record it is logged on.
type PipedriveActivity struct {
	Subject  string        // subject (Pipedrive's default: "Call")
	Summary  CallSummary   // note
	Done     bool          // done: false while the call is placed
	PersonID int64         // the person, as the activity's primary participant
	DealID   int64         // deal_id
	OrgID    int64         // org_id
	OwnerID  int64         // owner_id; 0: the token's user
	Due      time.Time     // due_date and due_time, in UTC; zero: not sent
	Duration time.Duration // duration, as HH:MM to the nearest minute (at least 1); 0: not sent
}

// AddCallActivity adds a "call" activity on the record and returns its id.
// When no answer came, or only part of one, Pipedrive may have added it
// anyway: trying again may add it twice.
func (p *Pipedrive) AddCallActivity(ctx context.Context, a PipedriveActivity) (int64, error) {
	if a.PersonID <= 0 && a.DealID <= 0 && a.OrgID <= 0 {
		return 0, badInput("pipedrive", "a call activity needs a person, deal or organization id")
	}
	body := map[string]any{"type": "call", "done": a.Done}
	if a.Subject != "" {
		body["subject"] = a.Subject
	}
	if note := a.Summary.HTML(); note != "" {
		body["note"] = note
	}
	if a.PersonID > 0 {
		body["participants"] = []any{map[string]any{"person_id": a.PersonID, "primary": true}}
	}
	for k, v := range map[string]int64{"deal_id": a.DealID, "org_id": a.OrgID, "owner_id": a.OwnerID} {
		if v > 0 {
			body[k] = v
		}
	}
	if !a.Due.IsZero() {
		due := a.Due.UTC()
		body["due_date"], body["due_time"] = due.Format(time.DateOnly), due.Format("15:04")
	}
	if a.Duration > 0 {
		minutes := max(int64(a.Duration.Round(time.Minute)/time.Minute), 1)
		body["duration"] = fmt.Sprintf("%02d:%02d", minutes/60, minutes%60)
	}
	req, err := p.request(http.MethodPost, "/api/v2/activities", body, "")
	if err != nil {
		return 0, err
	}
	answer, status, err := send(ctx, req)
	if err != nil {
		return 0, err
	}
	id := gjson.GetBytes(answer, "data.id").Int()
	if id <= 0 {
		return 0, &Error{CRM: "pipedrive", Status: status, Msg: "the answer carries no activity id"}
	}
	return id, nil
}

// MarkDone marks the activity done, its note replaced by the summary (with
// the call's outcome); an empty summary leaves the note as it is.
func (p *Pipedrive) MarkDone(ctx context.Context, id int64, s CallSummary) error {
	if id <= 0 {
		return badInput("pipedrive", "bad activity id %d", id)
	}
	body := map[string]any{"done": true}
	if note := s.HTML(); note != "" {
		body["note"] = note
	}
	req, err := p.request(http.MethodPatch, "/api/v2/activities/"+strconv.FormatInt(id, 10), body,
		"no such activity (deleted in Pipedrive?)")
	if err != nil {
		return err
	}
	_, _, err = send(ctx, req)
	return err
}

// request is a call to Pipedrive; missing says what a 404 means ("":
// Pipedrive's own message). A base URL that already names an API version
// is refused: the paths carry it.
func (p *Pipedrive) request(method, path string, body any, missing string) (request, error) {
	base := strings.TrimRight(p.BaseURL, "/")
	if base == "" {
		base = PipedriveBaseURL
	}
	if u, err := url.Parse(base); err != nil || u.Host == "" {
		return request{}, badInput("pipedrive", "bad base URL")
	} else if strings.Contains(u.Path, "/v1") || strings.Contains(u.Path, "/v2") {
		return request{}, badInput("pipedrive",
			"the base URL is the company's root (https://COMPANY.pipedrive.com), without %s", u.Path)
	}
	return request{
		crm: "pipedrive", client: p.Client, method: method, url: base + path, body: body,
		header: http.Header{"X-Api-Token": {p.Token}}, secret: p.Token,
		refused: pipedriveRefused, missing: missing,
	}, nil
}

func pipedriveRefused(status int) string {
	if status == http.StatusUnauthorized {
		return "Pipedrive refused the API token: check writeback.token (a user's personal API token, " +
			"from Personal preferences → API, of the company in writeback.base_url; regenerating it voids the old one)"
	}
	return "Pipedrive refused the request: the token's user may not add or edit activities on this record " +
		"(check the user's permission set and the record's visibility)"
}
