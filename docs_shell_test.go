package main

// Helpers for docs_test.go: a small shell lexer for the docs' command
// blocks, a curl that runs with net/http, and the matcher that compares an
// answer with the answer block a doc prints after it.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"unicode"
)

// wordPart is a piece of a shell word: literal text, a $VAR or ${VAR}
// reference, or a $(...) command substitution, whose value a doc leaves
// to the reader's shell.
type wordPart struct {
	lit   string
	name  string
	subst bool
}

// shellWord is one word of a command, expanded when the command runs (an
// export earlier in the same block changes what later words say).
type shellWord []wordPart

// op reports whether the word is a bare shell operator (|, ;, &&, >…).
func (w shellWord) op() bool {
	return len(w) == 1 && w[0].name == "" && !w[0].subst && strings.ContainsAny(w[0].lit, "|;&<>") &&
		strings.Trim(w[0].lit, "|;&<>") == "" && w[0].lit != ""
}

// literal is the word without expansion ("" when it holds a reference).
func (w shellWord) literal() (string, bool) {
	var b strings.Builder
	for _, p := range w {
		if p.name != "" || p.subst {
			return "", false
		}
		b.WriteString(p.lit)
	}
	return b.String(), true
}

// expand gives the word's value; placeholder reports a $(...) in it.
func (w shellWord) expand(env map[string]string) (s string, placeholder bool) {
	var b strings.Builder
	for _, p := range w {
		switch {
		case p.subst:
			placeholder = true
			b.WriteString("…")
		case p.name != "":
			b.WriteString(env[p.name])
		default:
			b.WriteString(p.lit)
		}
	}
	return b.String(), placeholder
}

// shellCmd is one command line of a block (backslash continuations and
// quoted newlines joined).
type shellCmd struct {
	line  int // 1-based, in the block
	words []shellWord
}

// lexShell splits a block into commands the way sh would read them, for
// the subset the docs use: quotes, backslashes, comments, $VAR, ${VAR},
// $(...) and operators as words of their own.
func lexShell(src string) ([]shellCmd, error) {
	l := &shellLexer{src: []rune(src), line: 1}
	return l.run()
}

type shellLexer struct {
	src   []rune
	i     int
	line  int
	cmds  []shellCmd
	cur   shellCmd
	word  shellWord
	inTok bool // a word is open (even an empty '' one)
}

func (l *shellLexer) lit(r rune) {
	l.inTok = true
	if n := len(l.word); n > 0 && l.word[n-1].name == "" && !l.word[n-1].subst {
		l.word[n-1].lit += string(r)
		return
	}
	l.word = append(l.word, wordPart{lit: string(r)})
}

func (l *shellLexer) endWord() {
	if l.inTok {
		l.cur.words = append(l.cur.words, l.word)
	}
	l.word, l.inTok = nil, false
}

func (l *shellLexer) endCmd() {
	l.endWord()
	if len(l.cur.words) > 0 {
		l.cmds = append(l.cmds, l.cur)
	}
	l.cur = shellCmd{line: l.line}
}

func (l *shellLexer) run() ([]shellCmd, error) {
	l.cur.line = 1
	for l.i < len(l.src) {
		r := l.src[l.i]
		l.i++
		switch {
		case r == '\n':
			l.line++
			l.endCmd()
		case r == ' ' || r == '\t':
			l.endWord()
		case r == '#' && !l.inTok:
			for l.i < len(l.src) && l.src[l.i] != '\n' {
				l.i++
			}
		case r == '\\':
			if l.i < len(l.src) && l.src[l.i] == '\n' {
				l.i++
				l.line++
				continue
			}
			if l.i < len(l.src) {
				l.lit(l.src[l.i])
				l.i++
			}
		case r == '\'':
			l.inTok = true
			end := l.index('\'')
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated '", l.line)
			}
			for _, c := range l.src[l.i:end] {
				if c == '\n' {
					l.line++
				}
				l.lit(c)
			}
			l.i = end + 1
		case r == '"':
			if err := l.double(); err != nil {
				return nil, err
			}
		case r == '$':
			l.dollar()
		case strings.ContainsRune("|;&<>", r):
			l.endWord()
			l.lit(r)
			for l.i < len(l.src) && strings.ContainsRune("|;&<>", l.src[l.i]) {
				l.lit(l.src[l.i])
				l.i++
			}
			l.endWord()
		default:
			l.lit(r)
		}
	}
	l.endCmd()
	return l.cmds, nil
}

func (l *shellLexer) index(r rune) int {
	for j := l.i; j < len(l.src); j++ {
		if l.src[j] == r {
			return j
		}
	}
	return -1
}

// double reads a "..." string: \" \\ \$ escapes and $ expansions.
func (l *shellLexer) double() error {
	l.inTok = true
	for l.i < len(l.src) {
		r := l.src[l.i]
		l.i++
		switch {
		case r == '"':
			return nil
		case r == '\\' && l.i < len(l.src) && strings.ContainsRune("\"\\$`", l.src[l.i]):
			l.lit(l.src[l.i])
			l.i++
		case r == '$':
			l.dollar()
		default:
			if r == '\n' {
				l.line++
			}
			l.lit(r)
		}
	}
	return fmt.Errorf("line %d: unterminated \"", l.line)
}

// dollar reads what follows a $ (the $ itself is consumed).
func (l *shellLexer) dollar() {
	l.inTok = true
	rest := string(l.src[l.i:])
	switch {
	case strings.HasPrefix(rest, "("):
		depth := 0
		for l.i < len(l.src) {
			c := l.src[l.i]
			l.i++
			if c == '(' {
				depth++
			} else if c == ')' {
				if depth--; depth == 0 {
					break
				}
			}
		}
		l.word = append(l.word, wordPart{subst: true})
	case strings.HasPrefix(rest, "{"):
		end := strings.IndexRune(rest, '}')
		if end < 0 {
			l.lit('$')
			return
		}
		name := rest[1:end]
		l.i += len([]rune(rest[:end+1]))
		l.word = append(l.word, wordPart{name: name})
	default:
		n := 0
		for _, c := range rest {
			if c != '_' && !unicode.IsLetter(c) && !unicode.IsDigit(c) {
				break
			}
			n++
		}
		if n == 0 {
			l.lit('$')
			return
		}
		l.word = append(l.word, wordPart{name: string(l.src[l.i : l.i+n])})
		l.i += n
	}
}

var assignRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// splitAssigns separates leading VAR=value words from the command.
func splitAssigns(words []shellWord) (assigns, rest []shellWord) {
	for i, w := range words {
		if len(w) == 0 || w[0].name != "" || w[0].subst || !assignRE.MatchString(w[0].lit) {
			return words[:i], words[i:]
		}
	}
	return words, nil
}

// curlRequest is a curl command line turned into a request.
type curlRequest struct {
	method, rawURL string
	header         http.Header
	body           []byte
	user, password string
	hasUser        bool
}

// parseCurl reads the curl options the docs use; any other option is an
// error, so that a doc cannot rely on one this test ignores.
func parseCurl(args []string) (*curlRequest, error) {
	c := &curlRequest{header: http.Header{}}
	var data []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("curl: %s needs a value", a)
			}
			i++
			return args[i], nil
		}
		var err error
		var v string
		switch a {
		case "-s", "-S", "-sS", "--silent", "--show-error":
		case "-X", "--request":
			c.method, err = next()
		case "-H", "--header":
			if v, err = next(); err == nil {
				k, val, ok := strings.Cut(v, ":")
				if !ok {
					return nil, fmt.Errorf("curl: header %q has no colon", v)
				}
				c.header.Add(strings.TrimSpace(k), strings.TrimSpace(val))
			}
		case "-d", "--data", "--data-raw", "--data-binary":
			if v, err = next(); err == nil {
				if strings.HasPrefix(v, "@") && a != "--data-raw" {
					raw, rerr := os.ReadFile(v[1:])
					if rerr != nil {
						return nil, fmt.Errorf("curl %s %s: %w", a, v, rerr)
					}
					if v = string(raw); a != "--data-binary" {
						v = strings.NewReplacer("\r", "", "\n", "").Replace(v) // as curl -d @file does
					}
				}
				data = append(data, v)
			}
		case "-u", "--user":
			if v, err = next(); err == nil {
				c.user, c.password, _ = strings.Cut(v, ":")
				c.hasUser = true
			}
		default:
			if strings.HasPrefix(a, "-") {
				return nil, fmt.Errorf("curl: option %s is not understood by the docs test", a)
			}
			if c.rawURL != "" {
				return nil, fmt.Errorf("curl: two URLs (%s, %s)", c.rawURL, a)
			}
			c.rawURL = a
		}
		if err != nil {
			return nil, err
		}
	}
	if len(data) > 0 {
		c.body = []byte(strings.Join(data, "&"))
		if c.header.Get("Content-Type") == "" {
			c.header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if c.method == "" {
			c.method = http.MethodPost
		}
	}
	if c.method == "" {
		c.method = http.MethodGet
	}
	if c.rawURL == "" {
		return nil, fmt.Errorf("curl: no URL")
	}
	if !strings.Contains(c.rawURL, "://") {
		c.rawURL = "http://" + c.rawURL
	}
	return c, nil
}

// localURL reports whether the request goes to the local dialhook the
// docs start (localhost:8080), and rewrites it to base.
func (c *curlRequest) localURL(base string) (string, bool) {
	u, err := url.Parse(c.rawURL)
	if err != nil || (u.Host != "localhost:8080" && u.Host != "127.0.0.1:8080") {
		return "", false
	}
	b, _ := url.Parse(base)
	u.Host = b.Host
	return u.String(), true
}

// do sends the request and returns the status and the body.
func (c *curlRequest) do(target string) (int, []byte, error) {
	req, err := http.NewRequest(c.method, target, bytes.NewReader(c.body))
	if err != nil {
		return 0, nil, err
	}
	req.Header = c.header.Clone()
	if c.hasUser {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.user+":"+c.password)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// ellipsis is what the docs write for "anything here".
const ellipsis = "…"

// parsePattern reads an answer block as JSON, where a bare … is allowed:
// as an object member it means "and other members", as an array element
// "and other elements", as a value "any value". A string holding … (an id,
// a GUID, a time) matches any string.
func parsePattern(text string) (any, error) {
	var b strings.Builder
	var stack []byte // '{' or '['
	inStr, esc := false, false
	keyPos := false // at an object member's start
	for _, r := range text {
		if inStr {
			b.WriteRune(r)
			switch {
			case esc:
				esc = false
			case r == '\\':
				esc = true
			case r == '"':
				inStr = false
			}
			continue
		}
		switch r {
		case '"':
			inStr, keyPos = true, false
		case '{', '[':
			stack = append(stack, byte(r))
			keyPos = r == '{'
		case '}', ']':
			stack = stack[:max(len(stack)-1, 0)]
		case ',':
			keyPos = len(stack) > 0 && stack[len(stack)-1] == '{'
		case '…':
			if keyPos {
				b.WriteString(`"…":"…"`)
			} else {
				b.WriteString(`"…"`)
			}
			keyPos = false
			continue
		}
		b.WriteRune(r)
	}
	var v any
	if err := json.Unmarshal([]byte(b.String()), &v); err != nil {
		return nil, fmt.Errorf("answer block is not JSON (… aside): %w\n%s", err, b.String())
	}
	return v, nil
}

// matchJSON compares an actual answer with a pattern from parsePattern and
// returns the first difference, as a path and a message ("" when it
// matches).
func matchJSON(path string, want, got any) string {
	switch w := want.(type) {
	case string:
		if w == ellipsis {
			return ""
		}
		if strings.Contains(w, ellipsis) {
			if _, ok := got.(string); ok {
				return ""
			}
			return fmt.Sprintf("%s: want a string, got %v", path, got)
		}
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want an object, got %v", path, got)
		}
		_, open := w[ellipsis]
		for k, wv := range w {
			if k == ellipsis {
				continue
			}
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("%s.%s: missing", path, k)
			}
			if d := matchJSON(path+"."+k, wv, gv); d != "" {
				return d
			}
		}
		if !open {
			for k := range g {
				if _, ok := w[k]; !ok {
					return fmt.Sprintf("%s.%s: not in the doc's answer (add it, or end the object with …)", path, k)
				}
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("%s: want an array, got %v", path, got)
		}
		open := len(w) > 0 && w[len(w)-1] == ellipsis
		if open {
			w = w[:len(w)-1]
		}
		if len(g) < len(w) || (!open && len(g) != len(w)) {
			return fmt.Sprintf("%s: %d elements, the doc shows %d", path, len(g), len(w))
		}
		for i := range w {
			if d := matchJSON(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Sprintf("%s: want %v, got %v", path, want, got)
	}
	return ""
}

// sameLines compares two texts line by line, each trimmed, blank lines
// dropped (for XML answers).
func sameLines(want, got string) bool {
	norm := func(s string) []string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
		return out
	}
	return reflect.DeepEqual(norm(want), norm(got))
}
