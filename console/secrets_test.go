package console_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"dialhook/internal/samples"
	"dialhook/store"
)

// No configured secret appears in any page, action answer or live
// update, even when the stored requests carry them unmasked (the masking
// before the store failed) and a dialer error quotes one.
func TestNoSecretInAnyPage(t *testing.T) {
	e := newEnv(t, adminToken)
	ev := e.lead("s-1", "099 123 456")
	e.finish(store.Outcome{State: store.Failed, Error: "token " + samples.GenericToken + " refused", ErrorKind: "auth"})
	dyn := e.deliver("dynhdr", samples.Body(samples.DynamicsLeadCreate), map[string]string{
		"Content-Type": "application/json", "X-Api-Key": samples.DynamicsHeaderKey, "Authorization": "Bearer " + adminToken,
		"Cookie": "dialhook_session=x", "X-Custom": "carries " + samples.PipedrivePassword}, "/webhooks/dynhdr?tenant="+samples.DynamicsQueryKey)
	hs := hubspotContact(e)
	e.st.refuse(t, store.Refusal{At: testNow, Source: "pipedrive", Status: 401, Code: "bad_credentials",
		Reason: "basic auth user " + samples.PipedriveUser + " with a wrong password",
		Request: store.Request{Method: "POST", Path: "/webhooks/pipedrive?token=" + samples.GenericToken,
			Headers: map[string]string{"Authorization": "Basic " + samples.PipedrivePassword, "X-Echo": samples.HubSpotSecret},
			Body:    `{"secret":"` + samples.HubSpotSecret + `"}`}})

	b := e.browser()
	b.signIn(t)
	var pages []*page
	get := func(target string) { pages = append(pages, b.get(target)) }
	for _, target := range []string{"/ui/", "/ui/live", "/ui/?q=" + url.QueryEscape(samples.GenericToken), "/ui/refused",
		"/ui/sources", "/ui/health", "/ui/sources/dynhdr/playground", "/ui/sources/crm/playground?from=" + ev.ID} {
		get(target)
	}
	for _, id := range []string{ev.ID, dyn.ID, hs.ID} {
		get("/ui/events/" + id)
		get("/ui/events/" + id + "/redial")
		get("/ui/events/" + id + "/replay")
	}
	b.get("/ui/sources/crm/playground")
	pages = append(pages, b.post("/ui/sources/crm/playground", url.Values{"body": {`{"event_id":"x","destination":"099 123 456","token":"` + samples.GenericToken + `"}`}}))
	pages = append(pages, b.post("/ui/events/"+ev.ID+"/redial", url.Values{"confirm": {"yes"}}))
	e.replayer.err = errNotYetWith(samples.StandardSecret)
	pages = append(pages, b.post("/ui/events/"+ev.ID+"/replay", url.Values{"confirm": {"yes"}}))
	anon := e.browser()
	pages = append(pages, anon.get("/ui/signin"), anon.post("/ui/signin", url.Values{"token": {"wrong"}}))

	for _, p := range pages {
		if p.Status == http.StatusInternalServerError && !strings.Contains(p.Body, "Replay failed") {
			t.Errorf("a page failed: %s", p)
		}
		for _, body := range []string{p.Body, html.UnescapeString(p.Body), strings.ReplaceAll(p.Body, `\u0026`, "&")} {
			for _, s := range secrets {
				if strings.Contains(body, s) {
					i := strings.Index(body, s)
					t.Errorf("secret %q shown: …%s…", s, body[max(0, i-200):min(len(body), i+len(s)+50)])
				}
			}
		}
	}
}

func errNotYetWith(secret string) error {
	return &secretError{"replay: the store said no to " + secret}
}

type secretError struct{ msg string }

func (e *secretError) Error() string { return e.msg }
