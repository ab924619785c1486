package config

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// readmeTODO lists settings the README's Settings table does not show yet;
// the README test skips them. Clear an entry once the README has its row.
var readmeTODO = map[string]bool{}

// readmeRow is one row of the README's Settings table.
type readmeRow struct {
	keys, envs []string
	def        string // the default cell, as written
}

var (
	backticked = regexp.MustCompile("`([^`]+)`")
	braces     = regexp.MustCompile(`^(.*)\{([^}]*)\}(.*)$`)
)

// readmeSettings reads the table under "## Settings" in README.md, keyed by
// YAML key. "defaults.{a,b}" names defaults.a and defaults.b, and
// "sources.NAME.*" names the sources map.
func readmeSettings(t *testing.T) map[string]*readmeRow {
	t.Helper()
	raw, err := os.ReadFile("../docs/settings.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\n## Settings\n")
	if !ok {
		t.Fatal("README.md has no ## Settings chapter")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	rows := map[string]*readmeRow{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		row := &readmeRow{envs: ticked(cells[2]), def: strings.TrimSpace(cells[3])}
		for _, k := range ticked(cells[1]) {
			k = strings.TrimSuffix(strings.TrimSuffix(k, ".*"), ".NAME")
			if m := braces.FindStringSubmatch(k); m != nil {
				for _, part := range strings.Split(m[2], ",") {
					row.keys = append(row.keys, m[1]+part+m[3])
				}
				continue
			}
			row.keys = append(row.keys, k)
		}
		for _, k := range row.keys {
			rows[k] = row
		}
	}
	if len(rows) == 0 {
		t.Fatal("no rows read from README.md's Settings table")
	}
	return rows
}

func ticked(cell string) []string {
	var out []string
	for _, m := range backticked.FindAllStringSubmatch(cell, -1) {
		out = append(out, m[1])
	}
	return out
}

// Every setting declared in Config has its row in the README, with the
// same environment variable and default; every row names a real setting.
func TestREADMEListsEverySetting(t *testing.T) {
	rows := readmeSettings(t)
	all := settingsOf(&Config{})
	byKey := map[string]setting{}
	for _, s := range all {
		byKey[s.Key] = s
		if readmeTODO[s.Key] {
			t.Logf("TODO: README has no row for %s yet", s.Key)
			continue
		}
		row := rows[s.Key]
		if row == nil {
			t.Errorf("README's Settings table has no row for %s; add | `%s` | %s | %s | %s |",
				s.Key, s.Key, tickedOrEmpty(s.Env), tickedOrEmpty(s.Default), s.Doc)
			continue
		}
		if s.Env != "" && !slices.Contains(row.envs, s.Env) {
			t.Errorf("README row for %s does not name %s (it names %v)", s.Key, s.Env, row.envs)
		}
		if s.Default != "" && len(row.keys) == 1 && !strings.Contains(row.def, "`"+s.Default+"`") {
			t.Errorf("README row for %s gives default %s, the declaration %q", s.Key, row.def, s.Default)
		}
	}
	for key, row := range rows {
		s, ok := byKey[key]
		if !ok {
			t.Errorf("README's Settings table has a row for %s, which is no setting", key)
			continue
		}
		for _, e := range row.envs {
			if !slices.ContainsFunc(row.keys, func(k string) bool { return byKey[k].Env == e }) {
				t.Errorf("README row for %s names %s, which none of its settings reads", s.Key, e)
			}
		}
	}
}

func tickedOrEmpty(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

// The declared defaults are what Load gives when nothing is set, and a
// setting without one starts at its zero value.
func TestDefaultsAreWhatLoadGives(t *testing.T) {
	c, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settingsOf(&c) {
		if s.Key == "sources" {
			continue // the generic source, checked by TestDefaults
		}
		want := reflect.New(s.value.Type()).Elem()
		if s.Default != "" {
			if err := setText(want, s.Default); err != nil {
				t.Errorf("%s: default %q: %v", s.Key, s.Default, err)
				continue
			}
		}
		if !reflect.DeepEqual(s.value.Interface(), want.Interface()) {
			t.Errorf("%s = %v after Load, declared default %q", s.Key, s.value.Interface(), s.Default)
		}
	}
}

// Each environment variable sets its own setting and no other, and no two
// settings share one.
func TestEverySettingReadsItsEnv(t *testing.T) {
	seen := map[string]string{}
	for _, s := range settingsOf(&Config{}) {
		if s.Env == "" {
			continue
		}
		if other, dup := seen[s.Env]; dup {
			t.Errorf("%s is read by %s and %s", s.Env, other, s.Key)
		}
		seen[s.Env] = s.Key
		text := map[reflect.Kind]string{reflect.String: "sample", reflect.Int: "7", reflect.Int64: "7", reflect.Bool: "true"}[s.value.Kind()]
		if s.value.Type() == durationType {
			text = "7s"
		}
		if s.value.Kind() == reflect.Bool && s.Default == "true" {
			text = "false"
		}
		c, _ := Load("", env(map[string]string{s.Env: text})) // validation may object; the value is set anyway
		base, _ := Load("", env(nil))
		got, want := settingsOf(&c), settingsOf(&base)
		for i := range got {
			changed := !reflect.DeepEqual(got[i].value.Interface(), want[i].value.Interface())
			if changed != (got[i].Key == s.Key) {
				t.Errorf("%s=%s: %s changed = %v", s.Env, text, got[i].Key, changed)
			}
		}
	}
	// Dropping a variable would silently ignore a deployment's setting.
	for _, name := range []string{
		"DIALHOOK_ADDR", "DIALHOOK_REDIS_URL", "DIALHOOK_ADMIN_TOKEN", "DIALHOOK_LOG_FORMAT", "DIALHOOK_DEDUP_WINDOW",
		"DIALHOOK_RETENTION", "DIALHOOK_SHUTDOWN_TIMEOUT", "DIALHOOK_PUBLIC_BASE_URL", "DIALHOOK_WORKERS",
		"DIALHOOK_CLAIM_IDLE", "DIALHOOK_RETRY_MAX", "DIALHOOK_RETRY_UNKNOWN", "DIALHOOK_UCONTACT_CONCURRENCY",
		"DIALHOOK_QUEUE_MAX", "DIALHOOK_STORE_TIMEOUT", "DIALHOOK_MEMORY_MAX_EVENTS", "UCONTACT_BASE_URL",
		"UCONTACT_INSTANCE", "UCONTACT_TOKEN", "UCONTACT_USER", "UCONTACT_PASSWORD", "UCONTACT_TIMEOUT", "DIALHOOK_CONSOLE",
	} {
		if _, ok := seen[name]; !ok {
			t.Errorf("%s is no longer read", name)
		}
	}
}

// A problem names the YAML key and its environment variable.
func TestProblemsNameKeyAndEnv(t *testing.T) {
	cases := []struct {
		file string
		env  map[string]string
		want string
	}{
		{"listen: ''\n", nil, "listen (DIALHOOK_ADDR): must not be empty"},
		{"", map[string]string{"DIALHOOK_REDIS_URL": "http://x"}, "redis_url (DIALHOOK_REDIS_URL): "},
		{"", map[string]string{"DIALHOOK_LOG_FORMAT": "xml"}, `log_format (DIALHOOK_LOG_FORMAT): "xml" must be json or console`},
		{"", map[string]string{"DIALHOOK_DEDUP_WINDOW": "0"}, "dedup_window (DIALHOOK_DEDUP_WINDOW): must be greater than zero"},
		{"", map[string]string{"DIALHOOK_RETENTION": "1h", "DIALHOOK_DEDUP_WINDOW": "2h"}, "retention (DIALHOOK_RETENTION): 1h0m0s is shorter than dedup_window 2h0m0s"},
		{"", map[string]string{"DIALHOOK_SHUTDOWN_TIMEOUT": "-1s"}, "shutdown_timeout (DIALHOOK_SHUTDOWN_TIMEOUT): must be greater than zero"},
		{"", map[string]string{"DIALHOOK_CLAIM_IDLE": "10s"}, "claim_idle (DIALHOOK_CLAIM_IDLE): 10s must be longer than ucontact.timeout 15s"},
		{"", map[string]string{"UCONTACT_TIMEOUT": "0s"}, "ucontact.timeout (UCONTACT_TIMEOUT): must be greater than zero"},
		{"", map[string]string{"DIALHOOK_STORE_TIMEOUT": "0s"}, "store_timeout (DIALHOOK_STORE_TIMEOUT): must be greater than zero"},
		{"", map[string]string{"DIALHOOK_MEMORY_MAX_EVENTS": "0"}, "memory_max_events (DIALHOOK_MEMORY_MAX_EVENTS): must be at least 1"},
		{"max_body_bytes: 0\n", nil, "max_body_bytes: must be greater than zero"},
		{"", map[string]string{"DIALHOOK_WORKERS": "0"}, "workers (DIALHOOK_WORKERS): must be at least 1"},
		{"", map[string]string{"DIALHOOK_RETRY_MAX": "0"}, "retry_max (DIALHOOK_RETRY_MAX): must be at least 1 (the first attempt counts)"},
		{"", map[string]string{"DIALHOOK_UCONTACT_CONCURRENCY": "0"}, "ucontact_concurrency (DIALHOOK_UCONTACT_CONCURRENCY): must be at least 1"},
		{"", map[string]string{"DIALHOOK_QUEUE_MAX": "0"}, "queue_max (DIALHOOK_QUEUE_MAX): must be at least 1"},
		{"", map[string]string{"DIALHOOK_PUBLIC_BASE_URL": "nope"}, `public_base_url (DIALHOOK_PUBLIC_BASE_URL): "nope" must be an absolute URL`},
		{"", map[string]string{"UCONTACT_BASE_URL": "ftp://x", "UCONTACT_TOKEN": "t"}, `ucontact.base_url (UCONTACT_BASE_URL): "ftp://x" must be an http(s) URL`},
		{"", map[string]string{"UCONTACT_INSTANCE": "a.b", "UCONTACT_TOKEN": "t"}, `ucontact.instance (UCONTACT_INSTANCE): "a.b" must be the bare instance name`},
		{"agents: {min_gap: -1s}\n", nil, "agents.min_gap: must not be negative"},
		{"agents: {routes: {ana: {phone: '1'}}}\n", nil, `agents.routes["ana"].agent: must not be empty`},
		{"call_window: {timezone: Mars/Olympus, days: [mon], start: '09:00', end: '18:00'}\n", nil, "call_window.timezone"},
		{"sources: {x: {kind: generic, cooldown: -1s}}\n", nil, "sources.x.cooldown: must not be negative"},
		{"sources: {x: {kind: generic, api_key: k}}\n", nil, "sources.x: api_key and api_base_url are read by kind close only (kind generic"},
		{"sources: {x: {kind: close, api_base_url: 'ftp://x'}}\n", nil, `sources.x.api_base_url: "ftp://x" must be an http(s) URL`},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeFile(t, tc.file)
			}
			_, err := Load(path, env(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

// The section-wide uContact problems name only variables dialhook reads.
func TestUContactProblemsNameRealVariables(t *testing.T) {
	declared := map[string]bool{}
	for _, s := range settingsOf(&Config{}) {
		declared[s.Env] = true
	}
	var msgs []string
	for _, e := range []map[string]string{
		{"UCONTACT_BASE_URL": "https://a.example", "UCONTACT_INSTANCE": "a", "UCONTACT_TOKEN": "t", "UCONTACT_USER": "u"},
		{"UCONTACT_BASE_URL": "https://a.example"},
		{"UCONTACT_TOKEN": "t"},
	} {
		_, err := Load("", env(e))
		if err == nil {
			t.Fatalf("%v accepted", e)
		}
		msgs = append(msgs, err.(*Error).Problems...)
	}
	names := regexp.MustCompile(`\bUCONTACT_[A-Z_]+`).FindAllString(strings.Join(msgs, "\n"), -1)
	if len(names) < 10 {
		t.Fatalf("expected the five section-wide problems, got:\n%s", strings.Join(msgs, "\n"))
	}
	for _, n := range names {
		if !declared[n] {
			t.Errorf("a problem names %s, which no setting reads", n)
		}
	}
}

// The summary shows every setting under its YAML key and no secret,
// sources' secrets included.
func TestSummaryShowsEverySettingMasked(t *testing.T) {
	p := writeFile(t, `
agents: {routes: {ana: {agent: ana, phone: "1001"}}, min_gap: 10s}
call_window: {timezone: UTC, days: [mon-fri], start: "09:00", end: "18:00"}
sources:
  crm:
    kind: close
    secret: src-secret
    basic_auth: {user: crmuser, password: ba-secret}
    auth_headers: {X-Token: hdr-secret}
    auth_query: {key: query-secret}
    api_key: api-secret
`)
	c, err := Load(p, env(map[string]string{
		"DIALHOOK_REDIS_URL": "redis://:hunter2@127.0.0.1:6379/0", "DIALHOOK_ADMIN_TOKEN": "admintok",
		"UCONTACT_BASE_URL": "https://a.example", "UCONTACT_TOKEN": "uc-token",
	}))
	if err != nil {
		t.Fatal(err)
	}
	sum := c.Summary()
	for _, s := range settingsOf(&c) {
		var at any = sum
		for _, part := range strings.Split(s.Key, ".") {
			m, _ := at.(map[string]any)
			var ok bool
			if at, ok = m[part]; !ok {
				t.Errorf("summary has no %s", s.Key)
				break
			}
		}
	}
	text := fmt.Sprint(sum)
	for _, secret := range []string{"hunter2", "admintok", "uc-token", "src-secret", "ba-secret", "crmuser", "hdr-secret", "query-secret", "api-secret"} {
		if strings.Contains(text, secret) {
			t.Errorf("summary shows %q: %s", secret, text)
		}
	}
	src := sum["sources"].(map[string]any)["crm"].(map[string]any)
	if src["kind"] != "close" || src["secret"] != "***" || fmt.Sprint(src["auth_headers"]) != "map[X-Token:***]" {
		t.Errorf("source summary = %v", src)
	}
	if sum["dedup_window"] != (24*time.Hour).String() || sum["agents"].(map[string]any)["min_gap"] != "10s" {
		t.Errorf("durations = %v, %v", sum["dedup_window"], sum["agents"])
	}
}

// SourceNames only reads; Load is what adds the generic source.
func TestSourceNamesHasNoSideEffect(t *testing.T) {
	var c Config
	if names := c.SourceNames(); len(names) != 0 || c.Sources != nil {
		t.Fatalf("SourceNames() = %v and left Sources = %v", names, c.Sources)
	}
	c, err := Load(writeFile(t, "sources: {crm: {kind: hubspot}}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if names := c.SourceNames(); !slices.Equal(names, []string{"crm"}) {
		t.Fatalf("names = %v: the generic source is served only when none is configured", names)
	}
}

// agents keeps its YAML shape with mapping's routes inlined, and strict
// decoding still rejects unknown keys inside it.
func TestAgentsYAML(t *testing.T) {
	c, err := Load(writeFile(t, "agents:\n  routes: {ana: {agent: a1, phone: '1001'}}\n  fallback: {agent: q}\n  min_gap: 90\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Agents.Routes["ana"].Phone != "1001" || c.Agents.Fallback.Agent != "q" || c.Agents.MinGap.D() != 90*time.Second {
		t.Fatalf("agents = %+v", c.Agents)
	}
	if _, err := Load(writeFile(t, "agents: {route: {}}\n"), env(nil)); err == nil || !strings.Contains(err.Error(), "route") {
		t.Fatalf("unknown key under agents: err = %v", err)
	}
	c, err = Load(writeFile(t, "sources: {s: {kind: generic, basic_auth: {user: u, password: p}}}\n"), env(nil))
	if err != nil || c.Sources["s"].BasicAuth.User != "u" || c.Sources["s"].BasicAuth.Password != "p" {
		t.Fatalf("basic_auth = %+v, %v", c.Sources["s"].BasicAuth, err)
	}
}
