package main

// The README, docs/ and examples/ are run, so that they cannot rot: every
// example configuration loads, every command a doc shows that can run on
// this machine runs and answers what the doc prints, and every relative
// link leads somewhere.

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"gopkg.in/yaml.v3"

	"dialhook/config"
	"dialhook/store"
)

// docDummies are the values used for the ${VAR}s whose form is checked at
// start-up; any other variable gets "dummy-<name>".
var docDummies = map[string]string{
	"CLOSE_SIGNATURE_KEY": "8d4f0c2b9a7e6d5c4b3a29180f1e2d3c", // hex, as Close hands it out
	"APP_WEBHOOK_SECRET":  "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
	"NOTIFY_SECRET":       "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}

func dummyFor(name string) string {
	if v, ok := docDummies[name]; ok {
		return v
	}
	return "dummy-" + strings.ToLower(name)
}

var configVarRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// dummyEnv gives every ${VAR} the file references a dummy value.
func dummyEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, m := range configVarRE.FindAllStringSubmatch(string(raw), -1) {
		env[m[1]] = dummyFor(m[1])
	}
	return env
}

// runDialhook runs the command line as main does: exit code, stdout, stderr.
func runDialhook(env map[string]string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, nil, &out, &errOut)
	return exitCode(err, &errOut), out.String(), errOut.String()
}

var (
	tryLineRE   = regexp.MustCompile(`^#\s*Try it:\s*(.+)$`)
	secretKeyRE = regexp.MustCompile(`^\s*(secret|password|token|api_key|admin_token|redis_url):\s*(.*)$`)
)

// Every examples/*.yaml passes `dialhook check` with a dummy value for each
// ${VAR} it names, without a warning; its secrets are ${VAR}s; the map
// command its header shows runs.
func TestExamplesLoad(t *testing.T) {
	files, err := filepath.Glob("examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"close", "dynamics", "full", "generic", "hubspot", "pipedrive", "salesforce", "standard", "zoho"} {
		if !slices.Contains(files, "examples/"+want+".yaml") {
			t.Errorf("examples/%s.yaml is missing", want)
		}
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			env := dummyEnv(t, f)
			code, out, errOut := runDialhook(env, "check", "--config", f)
			if code != 0 || !strings.Contains(out, "configuration OK") {
				t.Fatalf("dialhook check --config %s: exit %d\n%s%s", f, code, out, errOut)
			}
			if strings.Contains(out, "warning:") {
				t.Errorf("%s loads with a warning:\n%s", f, out)
			}
			raw, _ := os.ReadFile(f)
			tried := false
			for i, line := range strings.Split(string(raw), "\n") {
				if m := secretKeyRE.FindStringSubmatch(line); m != nil && !strings.Contains(m[2], "${") &&
					(m[1] != "redis_url" || strings.Contains(m[2], "@")) {
					t.Errorf("%s:%d: %s is written out; use a ${VAR}", f, i+1, m[1])
				}
				if c := strings.Index(line, "#"); c >= 0 && strings.Contains(line[c:], "${") {
					t.Errorf("%s:%d: a ${VAR} in a comment is expanded (and required) too; write it another way", f, i+1)
				}
				if m := tryLineRE.FindStringSubmatch(line); m != nil {
					tried = true
					w := &docWalker{t: t, file: f, vars: env}
					cmds, err := lexShell(m[1])
					if err != nil || len(cmds) != 1 {
						t.Fatalf("%s:%d: %v", f, i+1, err)
					}
					w.exec(cmds[0], f+":"+strconv.Itoa(i+1), nil)
				}
			}
			if !tried && f != "examples/full.yaml" {
				t.Errorf("%s has no '# Try it: go run . map …' line", f)
			}
		})
	}
}

// examples/full.yaml names every setting (set, or commented out where two
// settings exclude each other) and every source option.
func TestFullExampleHasEveryKey(t *testing.T) {
	raw, err := os.ReadFile("examples/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		if n.Kind == yaml.DocumentNode {
			walk(n.Content[0], prefix)
			return
		}
		if n.Kind == yaml.SequenceNode {
			for _, item := range n.Content { // notify's endpoints: notify.url
				walk(item, prefix)
			}
			return
		}
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if strings.HasPrefix(prefix, "sources.") && strings.Count(prefix, ".") == 1 {
				key = "*" // a source's name
			}
			present[prefix+key] = true
			walk(n.Content[i+1], prefix+key+".")
		}
	}
	walk(&root, "")
	commented := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*#\s*([a-z_]+):`).FindAllStringSubmatch(string(raw), -1) {
		commented[m[1]] = true
	}
	has := func(path string) bool {
		return present[path] || commented[path[strings.LastIndex(path, ".")+1:]]
	}
	for _, s := range config.Settings() {
		if !has(s.Key) {
			t.Errorf("examples/full.yaml does not show %s", s.Key)
		}
	}
	for _, opt := range yamlKeys(reflect.TypeFor[config.Source]()) {
		if !has("sources.*." + opt) {
			t.Errorf("examples/full.yaml shows no source with %s", opt)
		}
	}
	for _, opt := range yamlKeys(reflect.TypeFor[config.NotifyEndpoint]()) {
		if !has("notify." + opt) {
			t.Errorf("examples/full.yaml shows no notify endpoint with %s", opt)
		}
	}
	for _, opt := range yamlKeys(reflect.TypeFor[config.CallWindow]()) {
		if !has("call_window." + opt) {
			t.Errorf("examples/full.yaml does not show call_window.%s", opt)
		}
	}
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

// docFiles are README.md and every Markdown file under docs/.
func docFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md"}
	err := filepath.WalkDir("docs", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			files = append(files, filepath.ToSlash(p))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestREADMEIsShort(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(raw), "\n"); n >= 250 {
		t.Errorf("README.md has %d lines; it stays under 250 (the details live in docs/)", n)
	}
}

// docBlock is a fenced block of a Markdown file.
type docBlock struct {
	lang, info string
	body       string
	line, end  int // the opening and closing fence, 1-based
	answer     *docBlock
}

var fenceRE = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})(.*)$")

// fencedBlocks lists the fenced blocks of text. A json or xml block that
// follows a block with only blank lines between is that block's answer.
func fencedBlocks(text string) []*docBlock {
	lines := strings.Split(text, "\n")
	var blocks []*docBlock
	for i := 0; i < len(lines); i++ {
		m := fenceRE.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		b := &docBlock{info: strings.TrimSpace(m[2]), line: i + 1}
		if f := strings.Fields(b.info); len(f) > 0 {
			b.lang = f[0]
		}
		var body []string
		for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), m[1]); i++ {
			body = append(body, lines[i])
		}
		b.body, b.end = strings.Join(body, "\n"), i+1
		if n := len(blocks); n > 0 && (b.lang == "json" || b.lang == "xml") &&
			strings.TrimSpace(strings.Join(lines[blocks[n-1].end:b.line-1], "")) == "" {
			blocks[n-1].answer = b
		}
		blocks = append(blocks, b)
	}
	return blocks
}

// Every command of README.md and docs/ that can run here runs and answers
// what the doc prints (see docWalker).
func TestDocsCommandsRun(t *testing.T) {
	for _, f := range docFiles(t) {
		t.Run(f, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			w := &docWalker{t: t, file: f, vars: map[string]string{}}
			for _, b := range fencedBlocks(string(raw)) {
				if b.lang != "sh" && b.lang != "bash" && b.lang != "shell" {
					continue
				}
				cmds, err := lexShell(b.body)
				if err != nil {
					t.Errorf("%s:%d: %v", f, b.line, err)
					continue
				}
				// The answer block answers the block's last curl or map.
				last := -1
				for i, c := range cmds {
					if _, words := splitAssigns(c.words); len(words) > 0 && answerable(words) {
						last = i
					}
				}
				for i, c := range cmds {
					var answer *docBlock
					if i == last {
						answer = b.answer
					}
					w.exec(c, f+":"+strconv.Itoa(b.line+c.line), answer)
				}
			}
			t.Logf("%s: %d commands run", f, w.ran)
		})
	}
}

func answerable(words []shellWord) bool {
	name, _ := words[0].literal()
	if name == "curl" {
		return true
	}
	for _, w := range words {
		if s, _ := w.literal(); s == "map" {
			return true
		}
	}
	return false
}

// docWalker runs a doc's commands in order, as a reader would in a shell:
//
//   - export VAR=value (or a VAR=value line) sets a variable for the
//     commands after it; a value that is a placeholder (…, or a $(...)) gets
//     a dummy. Redis and uContact settings are not taken: the test never
//     reaches real ones.
//   - `go run .` / `dialhook` [serve] [--config F] starts dialhook on a free
//     port with those variables; the curls after it go there.
//   - `go run . check|map|secret|version|help …` runs through run(): exit 0,
//     or 1 for a map whose answer block shows a rejected event.
//   - curl to localhost:8080 is sent with net/http; the status must be the
//     one the answer block's fence names (```json 202), else a 2xx, and the
//     answer must match the block (… is a wildcard). A curl whose URL holds
//     a placeholder (…, {id}, EVENT_ID) is not sent.
//   - Anything else (docker, ngrok, go test, curl to other hosts) is not run.
type docWalker struct {
	t    *testing.T
	file string
	vars map[string]string
	base string // the dialhook the doc started
	ran  int
}

// infraVar names variables that would point dialhook at real
// infrastructure: a doc may set them for the reader, the test never does.
func infraVar(name string) bool {
	return name == "DIALHOOK_REDIS_URL" || name == "DIALHOOK_ADDR" || strings.HasPrefix(name, "UCONTACT_")
}

func (w *docWalker) set(word shellWord) {
	s, placeholder := word.expand(w.vars)
	name, value, _ := strings.Cut(s, "=")
	if infraVar(name) {
		return
	}
	if placeholder || strings.Contains(value, ellipsis) || value == "..." {
		value = dummyFor(name)
	}
	w.vars[name] = value
}

func (w *docWalker) exec(c shellCmd, where string, answer *docBlock) {
	assigns, words := splitAssigns(c.words)
	if len(words) == 0 {
		for _, a := range assigns {
			w.set(a)
		}
		return
	}
	name, _ := words[0].literal()
	arg := func(i int) string {
		if i < len(words) {
			s, _ := words[i].literal()
			return s
		}
		return ""
	}
	switch {
	case name == "export":
		for _, a := range words[1:] {
			w.set(a)
		}
	case name == "go" && arg(1) == "run" && arg(2) == ".":
		w.dialhook(where, assigns, words[3:], answer)
	case name == "dialhook":
		w.dialhook(where, assigns, words[1:], answer)
	case name == "curl":
		w.curl(where, words[1:], answer)
	}
}

func (w *docWalker) expand(where string, words []shellWord, env map[string]string) ([]string, bool) {
	out := make([]string, 0, len(words))
	for _, word := range words {
		if word.op() {
			w.t.Errorf("%s: a pipeline or redirection cannot be run by the docs test; give the command on its own", where)
			return nil, false
		}
		s, _ := word.expand(env)
		out = append(out, s)
	}
	return out, true
}

func (w *docWalker) dialhook(where string, assigns, words []shellWord, answer *docBlock) {
	t := w.t
	env := maps.Clone(w.vars)
	for _, a := range assigns {
		s, _ := a.expand(w.vars)
		name, value, _ := strings.Cut(s, "=")
		if infraVar(name) {
			t.Logf("%s: not run: it needs the reader's own Redis or uContact", where)
			return
		}
		env[name] = value
	}
	args, ok := w.expand(where, words, env)
	if !ok {
		return
	}
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd = args[0]
	}
	switch cmd {
	case "serve":
		if len(args) > 0 && args[0] == "serve" {
			args = args[1:]
		}
		w.base, _ = startService(t, env, args...)
	case "check", "secret", "version", "help":
		if code, out, errOut := runDialhook(env, args...); code != 0 {
			t.Errorf("%s: dialhook %s: exit %d\n%s%s", where, strings.Join(args, " "), code, out, errOut)
		}
	case "map":
		w.mapCommand(where, env, args, answer)
	case "healthcheck":
		return
	default:
		t.Errorf("%s: dialhook has no command %q", where, cmd)
		return
	}
	w.ran++
}

func (w *docWalker) mapCommand(where string, env map[string]string, args []string, answer *docBlock) {
	code, out, errOut := runDialhook(env, args...)
	want := 0
	if answer != nil && regexp.MustCompile(`"would_be":\s*"rejected"`).MatchString(answer.body) {
		want = 1
	}
	if code != want {
		w.t.Errorf("%s: dialhook %s: exit %d, want %d\n%s%s", where, strings.Join(args, " "), code, want, out, errOut)
		return
	}
	if answer != nil {
		w.compare(where, answer, []byte(out))
	}
}

var placeholderURL = regexp.MustCompile(`…|\{|/[A-Z][A-Z_]+(/|\?|$)`)

func (w *docWalker) curl(where string, words []shellWord, answer *docBlock) {
	t := w.t
	args, ok := w.expand(where, words, w.vars)
	if !ok {
		return
	}
	req, err := parseCurl(args)
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	if placeholderURL.MatchString(req.rawURL) {
		return
	}
	if _, local := req.localURL("http://x"); !local {
		return
	}
	if w.base == "" {
		t.Errorf("%s: a curl to localhost:8080, but the doc starts no dialhook (go run . …) before it", where)
		return
	}
	target, _ := req.localURL(w.base)
	status, body, err := req.do(target)
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	w.ran++
	wantStatus := 0
	if answer != nil {
		if f := strings.Fields(answer.info); len(f) > 1 {
			wantStatus, _ = strconv.Atoi(f[1])
		}
	}
	if (wantStatus == 0 && status/100 != 2) || (wantStatus != 0 && status != wantStatus) {
		t.Errorf("%s: curl %s answered %d (the doc expects %v)\n%s", where, req.rawURL, status, max(wantStatus, 200), body)
		return
	}
	if answer != nil {
		w.compare(where, answer, body)
	}
}

// compare checks an answer against the doc's answer block.
func (w *docWalker) compare(where string, answer *docBlock, got []byte) {
	t := w.t
	if answer.lang == "xml" {
		if !sameLines(answer.body, string(got)) {
			t.Errorf("%s: the answer is not what %s:%d prints:\n%s", where, w.file, answer.line, got)
		}
		return
	}
	want, err := parsePattern(answer.body)
	if err != nil {
		t.Errorf("%s:%d: %v", w.file, answer.line, err)
		return
	}
	var actual any
	if err := json.Unmarshal(got, &actual); err != nil {
		t.Errorf("%s: the answer is not JSON: %v\n%s", where, err, got)
		return
	}
	if d := matchJSON("answer", want, actual); d != "" {
		t.Errorf("%s: the answer differs from %s:%d: %s\n%s", where, w.file, answer.line, d, got)
	}
}

var (
	linkRE       = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	inlineCodeRE = regexp.MustCompile("`[^`\n]*`")
	headingRE    = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
	mdLinkRE     = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
)

// prose is a Markdown text without its fenced blocks.
func prose(text string) string {
	lines := strings.Split(text, "\n")
	for _, b := range fencedBlocks(text) {
		for i := b.line - 1; i < b.end && i < len(lines); i++ {
			lines[i] = ""
		}
	}
	return strings.Join(lines, "\n")
}

// headingSlugs are the anchors GitHub gives the headings of a Markdown file.
func headingSlugs(text string) map[string]bool {
	slugs := map[string]bool{}
	seen := map[string]int{}
	for _, line := range strings.Split(prose(text), "\n") {
		m := headingRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		h := strings.ToLower(mdLinkRE.ReplaceAllString(m[2], "$1"))
		var b strings.Builder
		for _, r := range h {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		slug := b.String()
		if n := seen[slug]; n > 0 {
			seen[slug]++
			slug += "-" + strconv.Itoa(n)
		} else {
			seen[slug] = 1
		}
		slugs[slug] = true
	}
	return slugs
}

// Every relative link of README.md and docs/ leads to a file that exists
// and, with an #anchor, to a heading of it; every doc is linked and every
// example is named somewhere.
func TestDocsLinks(t *testing.T) {
	files := docFiles(t)
	linked := map[string]bool{}
	var all strings.Builder
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(raw)
		text := inlineCodeRE.ReplaceAllString(prose(string(raw)), "")
		for _, m := range linkRE.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			p := f
			if path != "" {
				p = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(f), path)))
			}
			linked[p] = true
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s: link %s: no such file %s", f, target, p)
				continue
			}
			if anchor == "" {
				continue
			}
			raw, err := os.ReadFile(p)
			if err != nil || !strings.HasSuffix(p, ".md") || !headingSlugs(string(raw))[anchor] {
				t.Errorf("%s: link %s: %s has no heading #%s", f, target, p, anchor)
			}
		}
	}
	for _, f := range files[1:] {
		if !linked[f] {
			t.Errorf("%s is linked from neither README.md nor another doc", f)
		}
	}
	examples, _ := filepath.Glob("examples/*.yaml")
	payloads, _ := filepath.Glob("examples/payloads/*")
	for _, e := range append(examples, payloads...) {
		if !strings.Contains(all.String(), filepath.ToSlash(e)) {
			t.Errorf("%s is named in neither README.md nor docs/", e)
		}
	}
}

// docs/endpoints.md lists every state GET /events accepts (store.States),
// as the 400 for a bad state does.
func TestDocsEndpointsListEveryState(t *testing.T) {
	raw, err := os.ReadFile("docs/endpoints.md")
	if err != nil {
		t.Fatal(err)
	}
	var row string
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "| `GET /events?") {
			row = line
		}
	}
	if row == "" {
		t.Fatal("docs/endpoints.md has no GET /events row")
	}
	for _, st := range store.States {
		if !strings.Contains(row, "`"+string(st)+"`") {
			t.Errorf("docs/endpoints.md's GET /events row omits the state %s", st)
		}
	}
}
