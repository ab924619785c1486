package crm

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"dialhook/internal/samples"
	"dialhook/mapping"
	"dialhook/ucontact"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.json")

// sampleCase is a sample body as its CRM sends it (signed where the kind
// signs), with the adapter configuration that accepts it.
type sampleCase struct {
	name string
	cfg  Config
	req  func() *Request
}

func sampleCases() []sampleCase {
	ts := strconv.FormatInt(testNow.Unix(), 10)
	pd := Config{Name: "pd", Kind: "pipedrive", BasicAuth: &BasicAuth{User: samples.PipedriveUser, Password: samples.PipedrivePassword}}
	pdAuth := samples.BasicAuth(samples.PipedriveUser, samples.PipedrivePassword)
	return []sampleCase{
		{"salesforce-lead", Config{Name: "sf", Kind: "salesforce", OrgIDs: []string{samples.SalesforceOrgID}}, func() *Request {
			return sfRequest(samples.Body(samples.SalesforceOutboundLead))
		}},
		{"hubspot-workflow-contact", Config{Name: "hs", Kind: "hubspot", Secret: samples.HubSpotSecret, PublicBaseURL: "https://abc.ngrok-free.app"}, func() *Request {
			return post("/webhooks/hubspot?a=b%3Ac&x=%2F", samples.Body(samples.HubSpotWorkflowContact),
				"X-HubSpot-Signature-v3", hsV3NgrokQuery, "X-HubSpot-Request-Timestamp", hsTS)
		}},
		{"hubspot-subscription-batch", Config{Name: "hs", Kind: "hubspot", Secret: samples.HubSpotSecret}, func() *Request {
			return post("/webhooks/hubspot", samples.Body(samples.HubSpotSubscriptionBatch),
				"X-HubSpot-Signature", hsV1Batch, "X-HubSpot-Signature-Version", "v1")
		}},
		{"pipedrive-v2-person", pd, func() *Request {
			return post("/webhooks/pd", samples.Body(samples.PipedriveV2Person), "Authorization", pdAuth)
		}},
		{"pipedrive-v1-person", pd, func() *Request {
			return post("/webhooks/pd", samples.Body(samples.PipedriveV1Person), "Authorization", pdAuth)
		}},
		{"pipedrive-v2-delete", pd, func() *Request {
			return post("/webhooks/pd", samples.Body(samples.PipedriveV2Delete), "Authorization", pdAuth)
		}},
		{"zoho-lead-form", Config{Name: "zoho", Kind: "zoho", Secret: samples.ZohoToken}, func() *Request {
			return post("/webhooks/zoho", samples.Body(samples.ZohoLeadForm), "Content-Type", "application/x-www-form-urlencoded")
		}},
		{"zoho-lead-json", Config{Name: "zoho", Kind: "zoho", Secret: samples.ZohoToken}, func() *Request {
			return post("/webhooks/zoho", samples.Body(samples.ZohoLeadJSON), "Content-Type", "application/json")
		}},
		{"dynamics-lead-create", Config{Name: "d365", Kind: "dynamics", Secret: samples.DynamicsKey}, func() *Request {
			return post("/webhooks/d365?"+samples.DynamicsCode(samples.DynamicsKey), samples.Body(samples.DynamicsLeadCreate), "x-request-id", "5a1f0c7e-0000-4000-8000-000000000001")
		}},
		{"close-lead-created", Config{Name: "close", Kind: "close", Secret: samples.CloseKey}, func() *Request {
			body := samples.Body(samples.CloseLeadCreated)
			return closeRequest(body, ts, closeSign(ts, body))
		}},
		{"generic-call", Config{Name: "g", Kind: "generic", Secret: samples.GenericToken}, func() *Request {
			return post("/webhooks/g", samples.Body(samples.GenericCall), "X-Dialhook-Token", samples.GenericToken)
		}},
		{"standard-call", Config{Name: "std", Kind: "standard", Secret: samples.StandardSecret}, func() *Request {
			body := samples.Body(samples.StandardCall)
			return stdRequest("msg_1", ts, samples.StandardSignature(samples.StandardSecret, "msg_1", ts, body), body)
		}},
	}
}

// goldenSpec is a small deployment: the kind's preset, source defaults, and
// an agents table keyed by the owners found in the samples.
func goldenSpec(a Adapter, source string) mapping.Spec {
	return mapping.Spec{
		Source:         source,
		Kind:           a.Kind(),
		Preset:         a.Preset(),
		Defaults:       ucontact.Params{CallerID: "59829001234", Context: "from-internal", OutQueue: "Ventas->"},
		GlobalDefaults: ucontact.Params{Tech: "SIP"},
		Region:         "UY",
		Agents: mapping.Agents{
			Routes:   samples.AgentRoutes(func(a string) mapping.Route { return mapping.Route{Agent: a, Phone: a} }),
			Fallback: &mapping.Route{Agent: "1000", Phone: "1000"},
		},
	}
}

type goldenEvent struct {
	DedupKey   string           `json:"dedup_key"`
	ObjectType string           `json:"object_type"`
	RecordID   string           `json:"record_id"`
	Action     string           `json:"action"`
	Params     *ucontact.Params `json:"params,omitempty"`
	ID         string           `json:"id"`
	Owner      string           `json:"owner"`
	Warnings   []string         `json:"warnings,omitempty"`
	Error      string           `json:"error,omitempty"`
}

type goldenBatch struct {
	Ignored string        `json:"ignored,omitempty"`
	Events  []goldenEvent `json:"events"`
}

func TestGolden(t *testing.T) {
	for _, c := range sampleCases() {
		t.Run(c.name, func(t *testing.T) {
			a := mustNew(t, c.cfg)
			m, err := mapping.Compile(goldenSpec(a, c.cfg.Name))
			if err != nil {
				t.Fatal(err)
			}
			b := mustParse(t, a, c.req())
			got := goldenBatch{Ignored: b.Ignored, Events: []goldenEvent{}}
			for i := range b.Events {
				ev := &b.Events[i]
				g := goldenEvent{DedupKey: ev.DedupKey, ObjectType: ev.ObjectType, RecordID: ev.RecordID, Action: ev.Action}
				res, err := m.Map(ev)
				if err != nil {
					g.Error = err.Error()
				}
				if res != nil {
					if err == nil {
						g.Params = &res.Params
					}
					g.ID, g.Owner, g.Warnings = res.ID, res.Owner, res.Warnings
				}
				got.Events = append(got.Events, g)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(got); err != nil {
				t.Fatal(err)
			}
			out := buf.Bytes()
			path := filepath.Join("testdata", "golden", c.name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update)", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("%s differs:\n got: %s\nwant: %s", path, out, want)
			}
		})
	}
}

// BenchmarkAdapters measures Authenticate+Parse of each kind's sample.
func BenchmarkAdapters(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.cfg.Kind, func(b *testing.B) {
			a := mustNew(b, c.cfg)
			r := c.req()
			b.SetBytes(int64(len(r.Body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := a.Authenticate(r); err != nil {
					b.Fatal(err)
				}
				if _, err := a.Parse(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAdaptersMap adds mapping.Map with the kind's preset.
func BenchmarkAdaptersMap(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.cfg.Kind, func(b *testing.B) {
			a := mustNew(b, c.cfg)
			m, err := mapping.Compile(goldenSpec(a, c.cfg.Name))
			if err != nil {
				b.Fatal(err)
			}
			r := c.req()
			b.ReportAllocs()
			for b.Loop() {
				if err := a.Authenticate(r); err != nil {
					b.Fatal(err)
				}
				batch, err := a.Parse(r)
				if err != nil {
					b.Fatal(err)
				}
				for i := range batch.Events {
					if _, err := m.Map(&batch.Events[i]); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// benchCases is one sample per kind, the first of sampleCases.
func benchCases() []sampleCase {
	seen := map[string]bool{}
	var out []sampleCase
	for _, c := range sampleCases() {
		if !seen[c.cfg.Kind] {
			seen[c.cfg.Kind] = true
			out = append(out, c)
		}
	}
	return out
}
