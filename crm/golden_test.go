package crm

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"dialhook/mapping"
	"dialhook/ucontact"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.json")

// sampleCase is a sample body as its CRM sends it (signed where the kind
// signs), with the adapter configuration that accepts it.
type sampleCase struct {
	name string
	cfg  Config
	req  func(t testing.TB) *Request
}

func sampleCases() []sampleCase {
	ts := strconv.FormatInt(testNow.Unix(), 10)
	return []sampleCase{
		{"salesforce-lead", Config{Name: "sf", Kind: "salesforce", OrgIDs: []string{sfOrg}}, func(t testing.TB) *Request {
			return sfRequest(sample(t, "salesforce-outbound-lead.xml"))
		}},
		{"hubspot-workflow-contact", Config{Name: "hs", Kind: "hubspot", Secret: hsSecret, PublicBaseURL: "https://abc.ngrok-free.app"}, func(t testing.TB) *Request {
			return post("/webhooks/hubspot?a=b%3Ac&x=%2F", sample(t, "hubspot-workflow-contact.json"),
				"X-HubSpot-Signature-v3", hsV3NgrokQuery, "X-HubSpot-Request-Timestamp", hsTS)
		}},
		{"hubspot-subscription-batch", Config{Name: "hs", Kind: "hubspot", Secret: hsSecret}, func(t testing.TB) *Request {
			return post("/webhooks/hubspot", sample(t, "hubspot-subscription-batch.json"),
				"X-HubSpot-Signature", hsV1Batch, "X-HubSpot-Signature-Version", "v1")
		}},
		{"pipedrive-v2-person", Config{Name: "pd", Kind: "pipedrive", BasicAuth: &BasicAuth{User: "dialhook", Password: "pd-pass-5678"}}, func(t testing.TB) *Request {
			return post("/webhooks/pd", sample(t, "pipedrive-v2-person.json"), "Authorization", pdAuth("dialhook", "pd-pass-5678"))
		}},
		{"pipedrive-v1-person", Config{Name: "pd", Kind: "pipedrive", BasicAuth: &BasicAuth{User: "dialhook", Password: "pd-pass-5678"}}, func(t testing.TB) *Request {
			return post("/webhooks/pd", sample(t, "pipedrive-v1-person.json"), "Authorization", pdAuth("dialhook", "pd-pass-5678"))
		}},
		{"pipedrive-v2-delete", Config{Name: "pd", Kind: "pipedrive", BasicAuth: &BasicAuth{User: "dialhook", Password: "pd-pass-5678"}}, func(t testing.TB) *Request {
			return post("/webhooks/pd", sample(t, "pipedrive-v2-delete.json"), "Authorization", pdAuth("dialhook", "pd-pass-5678"))
		}},
		{"zoho-lead-form", Config{Name: "zoho", Kind: "zoho", Secret: zohoToken}, func(t testing.TB) *Request {
			return post("/webhooks/zoho", sample(t, "zoho-lead-form.txt"), "Content-Type", "application/x-www-form-urlencoded")
		}},
		{"zoho-lead-json", Config{Name: "zoho", Kind: "zoho", Secret: zohoToken}, func(t testing.TB) *Request {
			return post("/webhooks/zoho", sample(t, "zoho-lead.json"), "Content-Type", "application/json")
		}},
		{"dynamics-lead-create", Config{Name: "d365", Kind: "dynamics", Secret: "wh-key-9012"}, func(t testing.TB) *Request {
			return post("/webhooks/d365?code=wh-key-9012", sample(t, "dynamics-lead-create.json"), "x-request-id", "5a1f0c7e-0000-4000-8000-000000000001")
		}},
		{"close-lead-created", Config{Name: "close", Kind: "close", Secret: closeKey}, func(t testing.TB) *Request {
			body := sample(t, "close-lead-created.json")
			return closeRequest(body, ts, closeSign(ts, body))
		}},
		{"generic-call", Config{Name: "g", Kind: "generic", Secret: "gen-token-3456"}, func(t testing.TB) *Request {
			return post("/webhooks/g", sample(t, "generic-call.json"), "X-Dialhook-Token", "gen-token-3456")
		}},
		{"standard-call", Config{Name: "std", Kind: "standard", Secret: stdSecret}, func(t testing.TB) *Request {
			body := sample(t, "standard-call.json")
			return stdRequest("msg_1", ts, stdSign(stdSecret, "msg_1", ts, body), body)
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
			Routes: map[string]mapping.Route{
				"0055g00000Ab1CdAAJ":                   {Agent: "1001", Phone: "1001"}, // salesforce
				"71234567":                             {Agent: "1002", Phone: "1002"}, // hubspot, standard
				"20441":                                {Agent: "1003", Phone: "1003"}, // pipedrive
				"5725767000000211001":                  {Agent: "1004", Phone: "1004"}, // zoho
				"7e3c2a10-9f1b-ef11-8409-000d3a5c1b2e": {Agent: "1005", Phone: "1005"}, // dynamics
				"user_7Ab2CdE3fGh4IjK5":                {Agent: "1006", Phone: "1006"}, // close
				"ana@example.com":                      {Agent: "1007", Phone: "1007"}, // generic
			},
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
			b := mustParse(t, a, c.req(t))
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
			r := c.req(b)
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
			r := c.req(b)
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
