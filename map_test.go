package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dialhook/internal/samples"
)

const mapConfig = `
defaults:
  callerid: "59829001234"
  context: agentes
  outqueue: "Ventas->"
phone:
  default_region: UY
agents:
  routes:
    "71234567": {agent: "ana", phone: "1001"}
sources:
  hubspot:
    kind: hubspot
    secret: not-used-by-map
`

func TestMapCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "dialhook.yaml")
	if err := os.WriteFile(cfg, []byte(mapConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	sample := filepath.Join(dir, "contact.json")
	if err := os.WriteFile(sample, samples.Body(samples.HubSpotWorkflowContact), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := mapCommand(context.Background(), []string{"--config", cfg, "--source", "hubspot", "--file", sample}, func(string) string { return "" }, strings.NewReader(""), &out, io.Discard)
	if err != nil {
		t.Fatalf("map: %v\n%s", err, out.String())
	}
	var v struct {
		Events []struct {
			State     string            `json:"would_be"`
			Params    map[string]string `json:"params"`
			Decisions []string          `json:"decisions"`
		} `json:"events"`
	}
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if len(v.Events) != 1 {
		t.Fatalf("events = %d", len(v.Events))
	}
	e := v.Events[0]
	if e.State != "queued" || e.Params["destination"] != "59899123456" || e.Params["agent"] != "ana" || e.Params["phone"] != "1001" || len(e.Decisions) == 0 {
		t.Fatalf("event = %+v", e)
	}

	// A payload without a phone: printed, and the command fails.
	out.Reset()
	err = mapCommand(context.Background(), []string{"--config", cfg, "--source", "hubspot"}, func(string) string { return "" },
		strings.NewReader(`{"vid": 1, "properties": {"hubspot_owner_id": {"value": "71234567"}}}`), &out, io.Discard)
	if !errors.Is(err, errMappingFailed) || !strings.Contains(out.String(), `"destination"`) {
		t.Fatalf("map without phone: %v\n%s", err, out.String())
	}

	// An unknown source is an error naming it.
	err = mapCommand(context.Background(), []string{"--config", cfg, "--source", "nope"}, func(string) string { return "" }, strings.NewReader("{}"), &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown source: %v", err)
	}
}

// `dialhook map` says how a dialer_task source hands its leads over: no
// agent needed, the campaign, the data rendered.
func TestMapExplainsDialerTask(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "dialhook.yaml")
	conf := `
phone:
  default_region: UY
sources:
  flow:
    kind: generic
    mapping:
      destination: phone
      id: lead
    dial:
      mode: dialer_task
      campaign: "POWER<-"
      data: "idcustomer={record.lead}&src={source}"
`
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := mapCommand(context.Background(), []string{"--config", cfg, "--source", "flow", "--file", "-"}, func(string) string { return "" },
		strings.NewReader(`{"lead": 42, "phone": "099 123 456"}`), &out, io.Discard)
	if err != nil {
		t.Fatalf("map: %v\n%s", err, out.String())
	}
	var v struct {
		Events []struct {
			State    string `json:"would_be"`
			Dial     string `json:"dial"`
			DialSpec struct {
				Campaign, Data string
			} `json:"dial_spec"`
		} `json:"events"`
	}
	if err := json.Unmarshal(out.Bytes(), &v); err != nil || len(v.Events) != 1 {
		t.Fatalf("%v\n%s", err, out.String())
	}
	e := v.Events[0]
	if e.State != "queued" || !strings.Contains(e.Dial, "handed to the dialer, campaign POWER<-") || e.DialSpec.Data != "idcustomer=42&src=flow" {
		t.Errorf("map says %+v\n%s", e, out.String())
	}
}

const mapDefaults = `defaults: {callerid: "59829001234", agent: "1001", phone: "1001", context: agentes, outqueue: "Ventas->"}
phone: {default_region: UY}
`

// Without --source, map uses the configuration's only source (or its only
// webhook source); a source that is not there is said first, with the
// sources there are, and the configuration's other problems after it. An
// unset ${VAR} secret is a note (not "invalid configuration"): map checks
// no signature.
func TestMapPicksTheSource(t *testing.T) {
	hs := writeConfig(t, mapDefaults+`agents: {fallback: {agent: "1000", phone: "1000"}}
sources:
  hubspot: {kind: hubspot, secret: "${HUBSPOT_CLIENT_SECRET}"}
`)
	sample := filepath.Join(t.TempDir(), "contact.json")
	if err := os.WriteFile(sample, samples.Body(samples.HubSpotWorkflowContact), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli(t, nil, "", "map", "--config", hs, "--file", sample)
	if code != 0 || !strings.Contains(out, `"source": "hubspot"`) || !strings.Contains(errOut, "note: map checks no signature") || !strings.Contains(errOut, "HUBSPOT_CLIENT_SECRET") || strings.Contains(errOut, "invalid configuration") {
		t.Fatalf("map without --source: exit %d\n%s\n%s", code, out, errOut)
	}

	code, _, errOut = cli(t, nil, "", "map", "--config", hs, "--source", "generic", "--file", sample)
	missing, secret := strings.Index(errOut, `no source "generic"`), strings.Index(errOut, "HUBSPOT_CLIENT_SECRET")
	if code != 1 || missing < 0 || !strings.Contains(errOut, "sources: hubspot") || secret < missing {
		t.Fatalf("map --source generic: exit %d\n%s", code, errOut)
	}

	// A ucontact source takes uContact's events, not payloads: the other
	// one is meant.
	two := writeConfig(t, mapDefaults+`sources:
  flow: {kind: generic}
  calls: {kind: ucontact, secret: t0ken}
`)
	if code, out, errOut := cli(t, nil, `{"event_id": "p-1", "destination": "+59899123456"}`, "map", "--config", two); code != 0 || !strings.Contains(out, `"source": "flow"`) {
		t.Fatalf("map with one webhook source: exit %d\n%s\n%s", code, out, errOut)
	}

	// Several: map asks which, briefly.
	several := writeConfig(t, "sources:\n  a: {kind: generic}\n  b: {kind: generic}\n")
	code, out, errOut = cli(t, nil, "{}", "map", "--config", several)
	if code != 2 || out != "" || !strings.Contains(errOut, "(a, b)") || !strings.Contains(errOut, "--source") || strings.Contains(errOut, "Commands:") {
		t.Fatalf("map with several sources: exit %d\n%s\n%s", code, out, errOut)
	}
}

// A usage mistake of map's own is answered with the problem and where the
// flags are, not the whole usage; a parse error says its cause once.
func TestMapBriefErrors(t *testing.T) {
	cfg := writeConfig(t, "sources:\n  flow: {kind: generic}\n")
	code, out, errOut := cli(t, nil, "", "map", "--config", cfg)
	if code != 2 || out != "" || !strings.Contains(errOut, "no payload") || !strings.Contains(errOut, "run `dialhook map --help` for every flag") ||
		strings.Contains(errOut, "Commands:") || strings.Count(errOut, "\n") > 3 {
		t.Fatalf("map without a payload: exit %d\n%s", code, errOut)
	}
	code, _, errOut = cli(t, nil, `{"a":`, "map", "--config", cfg)
	if code != 1 || strings.Count(errOut, "unexpected end of JSON input") != 1 {
		t.Fatalf("map of truncated JSON: exit %d\n%s", code, errOut)
	}
}

// --file - on a terminal says what it waits for (a character device such as
// /dev/null stands for the terminal); a pipe is read without a word.
func TestMapSaysItReadsTheTerminal(t *testing.T) {
	cfg := writeConfig(t, mapDefaults+"sources:\n  flow: {kind: generic}\n")
	tty, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	var out, errOut bytes.Buffer
	err = run(context.Background(), []string{"map", "--config", cfg, "--file", "-"}, func(string) string { return "" }, tty, &out, &errOut)
	if err == nil || !strings.Contains(errOut.String(), "reading the payload from standard input; end it with Ctrl-D") {
		t.Fatalf("map --file - on a terminal: %v\n%s", err, errOut.String())
	}
	errOut.Reset()
	err = run(context.Background(), []string{"map", "--config", cfg, "--file", "-"}, func(string) string { return "" },
		strings.NewReader(`{"event_id": "t-1", "destination": "+59899123456"}`), &out, &errOut)
	if err != nil || strings.Contains(errOut.String(), "Ctrl-D") {
		t.Fatalf("map --file - from a pipe: %v\n%s", err, errOut.String())
	}
}
