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
