package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// problemsOf loads body and returns its problems, failing when it loads.
func problemsOf(t *testing.T, body string, e map[string]string) (string, []string) {
	t.Helper()
	p := writeFile(t, body)
	_, err := Load(p, env(e))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Load = %v, want an *Error", err)
	}
	return p, ce.Problems
}

// A file with many kinds of mistakes is reported whole in one Load: each
// problem at its line and column, under the key path the user wrote, in
// the file's order, then what the environment got wrong.
func TestEveryMistakeInOneRound(t *testing.T) {
	p, got := problemsOf(t, `# dialhook.yaml with mistakes of every kind
lisen: ":9000"
workers: many
dedup_window: soon
retry_max: 0
admin_token: ${ADMIN_TOKEN}
ucontact:
  base_url: https://acme.ucontactcloud.com
  token: t
  timout: 10s
sources:
  hubspot:
    kind: hubspot
    secret: s
    clock_skw: 5m
    org_ids: 5
`, map[string]string{"DIALHOOK_QUEUE_MAX": "lots"})
	want := []string{
		p + ":2:1: lisen: unknown key; did you mean `listen`?",
		p + `:3:10: workers: "many" is not a whole number`,
		p + `:4:15: dedup_window: "soon" is not a duration (use e.g. 30s, 5m, 24h)`,
		p + ":5:1: retry_max (DIALHOOK_RETRY_MAX): must be at least 1 (the first attempt counts)",
		p + ":6:14: admin_token: ${ADMIN_TOKEN} is referenced but the environment variable is not set",
		p + ":10:3: ucontact.timout: unknown key; did you mean `timeout`?",
		p + ":15:5: sources.hubspot.clock_skw: unknown key; did you mean `clock_skew`?",
		p + `:16:14: sources.hubspot.org_ids: got "5"; want a list such as [a, b]`,
		`queue_max (DIALHOOK_QUEUE_MAX): "lots" is not a whole number`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// Past a syntax error nothing in the file is read; the error gives
// yaml.v3's message at the line to fix, and the environment's problems and the file's ${VAR}
// references to unset variables are still listed.
func TestSyntaxErrorReportsItsLine(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"bad indentation", "listen: ':9000'\nworkers: 3\n  retry_max: 2\n", ":3: YAML syntax error: mapping values are not allowed in this context"},
		{"tab", "sources:\n\tcrm: {kind: generic}\n", ":2: YAML syntax error: found character that cannot start any token"},
		{"unclosed flow", "workers: 3\nphone: {format: e164\nretry_max: 3\n", ":2: YAML syntax error: did not find expected ',' or '}'"},
		// yaml.v3 says "line 1" here: where the mapping began, counted from 0.
		{"key out of line", "sources:\n  crm:\n    kind: hubspot\n   secret: x\n", ":4: YAML syntax error: did not find expected key"},
		{"unclosed quote", "listen: ':1'\nadmin_token: \"abc\nworkers: 3\n", ":2: YAML syntax error: found unexpected end of stream"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body + "admin_token: ${UNSET_TOKEN}\n# token: ${IN_A_COMMENT}\n"
			p := writeFile(t, body)
			_, err := Load(p, env(map[string]string{"DIALHOOK_WORKERS": "many"}))
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("err = %v, want ErrSyntax", err)
			}
			got := err.(*Error).Problems
			if len(got) != 3 || !strings.HasPrefix(got[0], p) || !strings.Contains(got[0], tc.want) ||
				!strings.Contains(got[1], "${UNSET_TOKEN} is referenced") || !strings.Contains(got[2], "DIALHOOK_WORKERS") {
				t.Errorf("problems:\n  %s", strings.Join(got, "\n  "))
			}
		})
	}
}

// Unknown keys are found at every level of the file, each with the known
// key it most resembles or, in a small section, the keys it has.
func TestUnknownKeysAtEveryLevel(t *testing.T) {
	cases := []struct{ body, want string }{
		{"lisen: ':1'\n", "lisen: unknown key; did you mean `listen`?"},
		{"Workers: 2\n", "Workers: unknown key; did you mean `workers`?"},
		{"totally_unknown: 1\n", "totally_unknown: unknown key"},
		{"ucontact: {tokn: t}\n", "ucontact.tokn: unknown key; did you mean `token`?"},
		{"phone: {default_regoin: UY}\n", "phone.default_regoin: unknown key; did you mean `default_region`?"},
		{"agents: {route: {}}\n", "agents.route: unknown key; did you mean `routes`?"},
		{"agents: {mingap: 1s}\n", "agents.mingap: unknown key; did you mean `min_gap`?"},
		{"agents: {routes: {ana: {agnet: a1}}}\n", "agents.routes.ana.agnet: unknown key; did you mean `agent`?"},
		{"agents: {fallback: {x: 1}}\n", "agents.fallback.x: unknown key; the keys here are agent, phone"},
		{"call_window: {tz: UTC}\n", "call_window.tz: unknown key; the keys here are timezone, fallback_timezone, days, start, end, max_delay"},
		{"defaults: {contxt: x}\n", "defaults.contxt: unknown key; did you mean `context`?"},
		{"sources: {crm: {kind: generic, secert: x}}\n", "sources.crm.secert: unknown key; did you mean `secret`?"},
		{"sources: {crm: {kind: close, apikey: x}}\n", "sources.crm.apikey: unknown key; did you mean `api_key`?"},
		{"sources: {crm: {kind: pipedrive, basic_auth: {usr: u, password: p}}}\n", "sources.crm.basic_auth.usr: unknown key; did you mean `user`?"},
		{"sources: {crm: {kind: generic, defaults: {agnt: a}}}\n", "sources.crm.defaults.agnt: unknown key; did you mean `agent`?"},
		{"sources: {crm: {kind: generic, call_window: {dayz: [mon]}}}\n", "sources.crm.call_window.dayz: unknown key; did you mean `days`?"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			p, got := problemsOf(t, tc.body, nil)
			if len(got) != 1 || !strings.HasPrefix(got[0], p+":1:") || !strings.HasSuffix(got[0], ": "+tc.want) {
				t.Errorf("problems = %q, want one ending %q", got, tc.want)
			}
		})
	}
}

// A value of the wrong type is reported at its own line and column, in
// the user's words, and the other values are still read.
func TestTypeErrorsPerValue(t *testing.T) {
	cases := []struct{ body, want string }{
		{"workers: many\n", `1:10: workers: "many" is not a whole number`},
		{"workers: 2.5\n", `1:10: workers: "2.5" is not a whole number`},
		{"workers: [1]\n", `1:10: workers: got a list; want a whole number`},
		{"retry_unknown: maybe\n", `1:16: retry_unknown: "maybe" is not true or false`},
		{"listen: {port: 1}\n", `1:9: listen: got a section of keys; want text`},
		{"dedup_window: soon\n", `1:15: dedup_window: "soon" is not a duration (use e.g. 30s, 5m, 24h)`},
		{"ucontact:\n  timeout: [1]\n", `2:12: ucontact.timeout: got a list; want a duration such as 30s, 5m or 24h`},
		{"phone: UY\n", `1:8: phone: got "UY"; want a section of settings (default_region, format, prefix, allow_letters, …)`},
		{"agents: {routes: [ana]}\n", "1:18: agents.routes: got a list; want a section of `name: value` lines"},
		{"call_window: {days: mon}\n", `1:21: call_window.days: got "mon"; want a list such as [a, b]`},
		{"call_window: {days: [mon, [tue]]}\n", `1:27: call_window.days[1]: got a list; want text`},
		{"sources: {s: {kind: salesforce, org_ids: 5}}\n", `1:42: sources.s.org_ids: got "5"; want a list such as [a, b]`},
		{"sources: {s: {kind: generic, clock_skew: later}}\n", `1:42: sources.s.clock_skew: "later" is not a duration (use e.g. 30s, 5m, 24h)`},
		{"sources: {s: {kind: generic, mapping: 5}}\n", "1:39: sources.s.mapping: got \"5\"; want a section of `name: value` lines"},
		{"max_body_bytes: 1e6\nworkers: 1.5\n", `2:10: workers: "1.5" is not a whole number`},
		{"sources: [crm]\n", "1:10: sources: got a list; want a section of `name: value` lines"},
		{"workers: 2\nworkers: 3\n", "2:1: workers: set twice (first on line 1); keep one"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			p, got := problemsOf(t, tc.body+"retry_max: 0\n", nil)
			if len(got) != 2 || !strings.HasPrefix(got[0], p+":"+tc.want) || !strings.Contains(got[1], "retry_max") {
				t.Errorf("problems = %q, want %q then retry_max's", got, tc.want)
			}
		})
	}
}

// A file that is not a mapping of settings says so.
func TestFileMustBeAMapping(t *testing.T) {
	p, got := problemsOf(t, "- listen\n- workers\n", nil)
	if len(got) != 1 || got[0] != p+":1:1: the file must hold settings as `key: value` lines (e.g. `listen: \":8080\"`), not a list" {
		t.Errorf("problems = %q", got)
	}
}

// No message names a Go type or shows yaml.v3's own wording: users write
// YAML keys, not config.Config fields.
func TestNoGoTypeNamesInProblems(t *testing.T) {
	bodies := []string{
		"bogus: 1\nworkers: many\ndedup_window: [1]\nucontact: 5\nphone: {allow_letters: maybe}\n",
		"agents: {routes: {ana: 5}, fallback: [x], min_gap: soon}\ncall_window: {days: 5, max_delay: x}\n",
		"defaults: [x]\nsources: {s: {kind: [generic], basic_auth: x, auth_headers: 5, mapping: [x], defaults: {x: 1}, cooldown: {}}}\n",
		"sources: {s: {kind: generic, mapping: {destination: a, destination: b}}}\n",
		"x: &a {<<: *a}\nsources: {s: &s {kind: generic, <<: *s}}\n",
		"workers: 1\n  bad: indent\n",
		"- listen\n- workers\n",
	}
	for _, body := range bodies {
		p, got := problemsOf(t, body, nil)
		for _, msg := range got {
			msg = strings.TrimPrefix(msg, p)
			for _, goName := range []string{"config.", "struct", "map[", "[]string", "int64", "Duration", "ucontact.", "!!", "unmarshal", "yaml:"} {
				if strings.Contains(msg, goName) {
					t.Errorf("%q names a Go type or yaml.v3 internals (%s)", msg, goName)
				}
			}
		}
	}
}

// A value inside a secret is never quoted back, even when it is in the
// wrong place.
func TestSecretsNotQuotedInProblems(t *testing.T) {
	_, got := problemsOf(t, `sources:
  s:
    kind: pipedrive
    basic_auth: "crmuser:hunter2"
    auth_headers: hdr-secret
    auth_query: [query-secret]
`, nil)
	text := strings.Join(got, "\n")
	for _, secret := range []string{"hunter2", "hdr-secret", "query-secret"} {
		if strings.Contains(text, secret) {
			t.Errorf("problems show %q:\n%s", secret, text)
		}
	}
	if !strings.Contains(text, "sources.s.basic_auth: got a single value; want a section of settings (user, password)") {
		t.Errorf("problems:\n%s", text)
	}
}

// A validation problem points at the line that set the value, or at its
// section when the key is missing; one an environment variable caused has
// no line in the file, and a refused value is not reported again for the
// default that replaced it.
func TestValidationProblemsHaveLines(t *testing.T) {
	cases := []struct {
		body string
		env  map[string]string
		want []string // suffixes after "FILE", in order
	}{
		{"listen: \"\"\n", nil, []string{":1:1: listen (DIALHOOK_ADDR): must not be empty"}},
		{"workers: 3\n", map[string]string{"DIALHOOK_WORKERS": "0"}, []string{"workers (DIALHOOK_WORKERS): must be at least 1"}},
		{"agents:\n  routes:\n    ana: {phone: '1'}\n", nil, []string{`:3:5: agents.routes["ana"].agent: must not be empty`}},
		{"sources:\n  x:\n    cooldown: -1s\n", nil, []string{":2:3: sources.x.kind: must be set", ":3:5: sources.x.cooldown: must not be negative"}},
		{"call_window:\n  timezone: Mars/Olympus\n", nil, []string{":2:3: call_window.timezone: \"Mars/Olympus\" is not an IANA time zone"}},
		{"sources:\n  x:\n    kind: [generic]\n", nil, []string{":3:11: sources.x.kind: got a list; want text"}},
	}
	for _, tc := range cases {
		t.Run(tc.want[0], func(t *testing.T) {
			p, got := problemsOf(t, tc.body, tc.env)
			ok := len(got) == len(tc.want)
			for i := 0; ok && i < len(got); i++ {
				want := tc.want[i]
				if strings.HasPrefix(want, ":") {
					want = p + want
				}
				ok = strings.HasPrefix(got[i], want)
			}
			if !ok {
				t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

// ${VAR} is replaced in values only, by the variable's text: a secret with
// YAML's own characters stays whole, a reference in a comment is none,
// and an unquoted reference reads as the value would if written.
func TestVariablesAreText(t *testing.T) {
	p := writeFile(t, `# admin_token: ${OLD_TOKEN}
admin_token: ${TOKEN}
workers: ${WORKERS}
ucontact:
  base_url: https://a.example
  token: "${UC_TOKEN}"
`)
	c, err := Load(p, env(map[string]string{"TOKEN": "a #b: [c", "WORKERS": "3", "UC_TOKEN": "0123"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.AdminToken != "a #b: [c" || c.Workers != 3 || c.UContact.Token != "0123" {
		t.Errorf("admin_token %q, workers %d, token %q", c.AdminToken, c.Workers, c.UContact.Token)
	}
	_, got := problemsOf(t, "workers: ${WORKERS}\n", map[string]string{"WORKERS": "many"})
	if len(got) != 1 || !strings.HasSuffix(got[0], `:1:10: workers: "many" is not a whole number`) {
		t.Errorf("problems = %q", got)
	}
}

// Where points at the key the file sets, for problems found after Load
// (a source's adapter or mapping).
func TestWhere(t *testing.T) {
	p := writeFile(t, "sources:\n  crm:\n    kind: hubspot\n    mapping:\n      destination: properties.phone\n")
	c, err := Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"sources.crm.mapping.destination": p + ":5:7",
		"sources.crm.mapping.callerid":    p + ":4:5",
		"sources.crm":                     p + ":2:3",
		"listen":                          "",
	} {
		if got := c.Where(key); got != want {
			t.Errorf("Where(%q) = %q, want %q", key, got, want)
		}
	}
	if (&Config{}).Where("listen") != "" {
		t.Error("a Config not from Load has a place in a file")
	}
}

// An unknown kind is reported at the kind: line, with the kind it most
// resembles (or the list of kinds), once: what depends on the kind (its
// write-back, api_key) is not reported besides, and the adapter is not
// built (Refused).
func TestUnknownKindAtItsLine(t *testing.T) {
	p, got := problemsOf(t, `sources:
  hs:
    kind: hubspott
    secret: s
    api_key: k
  other:
    kind: marketo
    writeback: {token: t}
`, nil)
	want := []string{
		p + ":3:5: sources.hs.kind: unknown kind \"hubspott\"; did you mean `hubspot`?",
		p + ":7:5: sources.other.kind: unknown kind \"marketo\"; the kinds are generic, salesforce, hubspot, pipedrive, zoho, dynamics, close, standard, ucontact",
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	c, _ := Load(p, env(nil))
	if !c.Refused("sources.hs.kind") || c.Sources["hs"].Kind != "hubspott" {
		t.Errorf("Refused(sources.hs.kind) = %v, kind %q", c.Refused("sources.hs.kind"), c.Sources["hs"].Kind)
	}
}
