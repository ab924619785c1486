package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"dialhook/internal/samples"
)

// profile is how one kind of sender is simulated: its sample body from
// internal/samples, the source configuration that accepts it, how each
// request is made unique (a new native event id, so a new dedup key and
// body hash), and how it is signed (with samples' signers, the tests'
// sender side).
type profile struct {
	kind       string
	sample     string // a samples body name
	marker     string // replaced in the sample by a unique token
	token      func(n uint64) string
	config     func(s *secrets) string // YAML lines under sources.NAME, indented by 4
	sign       func(s *secrets, h http.Header, host, path string, body []byte, n uint64)
	query      func(s *secrets) string
	wantStatus int  // answer to a new event
	soap       bool // answers are SOAP Acks: a duplicate looks like a new event
}

// secrets are generated once per run.
type secrets struct {
	nonce    string
	hubspot  string
	closeHex string
	standard string // whsec_...
	zoho     string
	dynamics string
	pdUser   string
	pdPass   string
}

func newSecrets() *secrets {
	rnd := func(n int) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}
	s := &secrets{nonce: strconv.FormatInt(time.Now().UnixNano()%1e9, 36)}
	s.hubspot = hex.EncodeToString(rnd(16))
	s.closeHex = hex.EncodeToString(rnd(32))
	s.standard = "whsec_" + base64.StdEncoding.EncodeToString(rnd(24))
	s.zoho = samples.ZohoToken // the sample body carries this token
	s.dynamics = hex.EncodeToString(rnd(12))
	s.pdUser, s.pdPass = samples.PipedriveUser, hex.EncodeToString(rnd(8))
	return s
}

func unix() string   { return strconv.FormatInt(time.Now().Unix(), 10) }
func unixMs() string { return strconv.FormatInt(time.Now().UnixMilli(), 10) }

// uuidLike renders n as a UUID-shaped string unique within the run.
func uuidLike(nonce string, n uint64) string {
	h := sha256.Sum256([]byte(nonce + ":" + strconv.FormatUint(n, 10)))
	x := hex.EncodeToString(h[:16])
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

var profiles = map[string]*profile{
	"generic": {
		kind: "generic", sample: samples.GenericCall, marker: `"evt-1001"`, wantStatus: http.StatusAccepted,
		config: func(s *secrets) string { return "    kind: generic\n" },
		sign: func(s *secrets, h http.Header, host, path string, body []byte, n uint64) {
			h.Set("Content-Type", "application/json")
		},
	},
	"standard": {
		kind: "standard", sample: samples.StandardCall, marker: `"evt-2002"`, wantStatus: http.StatusAccepted,
		config: func(s *secrets) string { return "    kind: standard\n    secret: \"" + s.standard + "\"\n" },
		sign: func(s *secrets, h http.Header, host, path string, body []byte, n uint64) {
			id, ts := "msg_"+s.nonce+"_"+strconv.FormatUint(n, 10), unix()
			h.Set("Content-Type", "application/json")
			h.Set("webhook-id", id)
			h.Set("webhook-timestamp", ts)
			h.Set("webhook-signature", samples.StandardSignature(s.standard, id, ts, body))
		},
	},
	"close": {
		kind: "close", sample: samples.CloseLeadCreated, marker: `"ev_2EoTkiI2UgXmA9hIk5Jyb0"`, wantStatus: http.StatusAccepted,
		config: func(s *secrets) string { return "    kind: close\n    secret: \"" + s.closeHex + "\"\n" },
		sign: func(s *secrets, h http.Header, host, path string, body []byte, n uint64) {
			ts := unix()
			h.Set("Content-Type", "application/json")
			h.Set("close-sig-timestamp", ts)
			h.Set("close-sig-hash", samples.CloseSignature(s.closeHex, ts, body))
		},
	},
	"hubspot": {
		kind: "hubspot", sample: samples.HubSpotWorkflowContact, marker: `"vid": 4051,`, wantStatus: http.StatusAccepted,
		token:  func(n uint64) string { return `"vid": ` + strconv.FormatUint(1_000_000+n, 10) + `,` },
		config: func(s *secrets) string { return "    kind: hubspot\n    secret: \"" + s.hubspot + "\"\n" },
		sign: func(s *secrets, h http.Header, host, path string, body []byte, n uint64) {
			ts := unixMs()
			h.Set("Content-Type", "application/json")
			h.Set("X-HubSpot-Request-Timestamp", ts)
			h.Set("X-HubSpot-Signature-v3", samples.HubSpotV3(s.hubspot, http.MethodPost, "http://"+host+path, body, ts))
		},
	},
	"pipedrive": {
		kind: "pipedrive", sample: samples.PipedriveV2Person, marker: `"7c1f3b2e-5a44-4e0b-9a1d-2f6c8e9b0a11"`, wantStatus: http.StatusAccepted,
		config: func(s *secrets) string {
			return "    kind: pipedrive\n    basic_auth: {user: \"" + s.pdUser + "\", password: \"" + s.pdPass + "\"}\n"
		},
		sign: func(s *secrets, h http.Header, host, path string, body []byte, n uint64) {
			h.Set("Content-Type", "application/json")
			h.Set("Authorization", samples.BasicAuth(s.pdUser, s.pdPass))
		},
	},
	"zoho": {
		kind: "zoho", sample: samples.ZohoLeadJSON, marker: `"5725767000000412345"`, wantStatus: http.StatusAccepted,
		token:  func(n uint64) string { return `"` + strconv.FormatUint(9_000_000_000_000_000+n, 10) + `"` },
		config: func(s *secrets) string { return "    kind: zoho\n    secret: \"" + s.zoho + "\"\n" },
		sign: func(s *secrets, h http.Header, host, path string, body []byte, n uint64) {
			h.Set("Content-Type", "application/json")
			h.Set("X-Dialhook-Token", s.zoho)
		},
	},
	"dynamics": {
		kind: "dynamics", sample: samples.DynamicsLeadCreate, marker: `"c1d2e3f4-a5b6-ef11-8409-000d3a5c1b2e"`, wantStatus: http.StatusAccepted,
		config: func(s *secrets) string { return "    kind: dynamics\n    secret: \"" + s.dynamics + "\"\n" },
		query:  func(s *secrets) string { return samples.DynamicsCode(s.dynamics) },
		sign: func(s *secrets, h http.Header, host, path string, body []byte, n uint64) {
			h.Set("Content-Type", "application/json")
			h.Set("x-request-id", uuidLike(s.nonce+"-rq", n))
		},
	},
	"salesforce": {
		kind: "salesforce", sample: samples.SalesforceOutboundLead, marker: `<Id>04l5g00000KQxYzAAL</Id>`, wantStatus: http.StatusOK, soap: true,
		token: func(n uint64) string { return "<Id>04l" + fmt.Sprintf("%015d", n) + "</Id>" },
		config: func(s *secrets) string {
			return "    kind: salesforce\n    org_ids: [\"" + samples.SalesforceOrgID + "\"]\n"
		},
		sign: func(s *secrets, h http.Header, host, path string, body []byte, n uint64) {
			h.Set("Content-Type", "text/xml; charset=UTF-8")
			h.Set("SOAPAction", `""`)
		},
	},
}

func profileNames() string {
	var names []string
	for k := range profiles {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, "|")
}

// source is a profile ready to make requests for one run.
type source struct {
	p      *profile
	s      *secrets
	name   string
	sample []byte
	path   string // /webhooks/NAME[?query]
	upath  string // path without the query (signed by HubSpot)
}

func newSource(kind string, s *secrets) (*source, error) {
	p := profiles[kind]
	if p == nil {
		return nil, fmt.Errorf("unknown --source %q (one of %s)", kind, profileNames())
	}
	b := samples.Body(p.sample)
	if bytes.Count(b, []byte(p.marker)) == 0 {
		return nil, fmt.Errorf("sample %s lacks marker %s", p.sample, p.marker)
	}
	src := &source{p: p, s: s, name: kind, sample: b, upath: "/webhooks/" + kind}
	src.path = src.upath
	if p.query != nil {
		src.path += "?" + p.query(s)
	}
	return src, nil
}

// body is the sample with event n's unique token.
func (src *source) body(n uint64) []byte {
	tok := `"bench-` + src.s.nonce + `-` + strconv.FormatUint(n, 10) + `"`
	if src.p.token != nil {
		tok = src.p.token(n)
	}
	return bytes.ReplaceAll(src.sample, []byte(src.p.marker), []byte(tok))
}

// request builds event n's delivery to base (http://host:port).
func (src *source) request(base, host string, n uint64) (*http.Request, error) {
	body := src.body(n)
	req, err := http.NewRequest(http.MethodPost, base+src.path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	src.p.sign(src.s, req.Header, host, src.upath, body, n)
	return req, nil
}

// configYAML is the dialhook configuration of the run: the source, with
// defaults for what the samples leave out, and every event dialing an agent
// of its own (agent = the body hash, 64 hex digits: the most an agent may
// have), so that the per-agent pacing
// (one call in flight per agent) does not serialize the benchmark.
func (src *source) configYAML() string {
	return `defaults:
  callerid: "59829001234"
  phone: "1001"
  tech: SIP
  context: from-internal
  outqueue: "Ventas->"
agents:
  fallback: {agent: "1000", phone: "1000"}
sources:
  ` + src.name + `:
` + src.p.config(src.s) + `    region: UY
    mapping:
      agent: {template: "{{$body_hash}}"}
`
}
