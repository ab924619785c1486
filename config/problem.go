package config

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ErrSyntax is what an *Error wraps when the file is not valid YAML: none
// of its settings were read, so nothing that depends on them (the sources'
// adapters and mappings) can be checked in the same round.
var ErrSyntax = errors.New("the config file is not valid YAML")

// Error lists every configuration problem found at once, each one line:
// "FILE:LINE:COL: KEY: what is wrong" when the file sets the key, and
// "KEY (ENV): what is wrong" when the environment or a default does.
type Error struct {
	Problems []string
	syntax   bool
}

func (e *Error) Error() string {
	return "invalid configuration:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// Unwrap returns ErrSyntax when the file could not be parsed.
func (e *Error) Unwrap() error {
	if e.syntax {
		return ErrSyntax
	}
	return nil
}

// position is where the file sets something; line 0 when it does not.
type position struct{ line, col int }

func at(n *yaml.Node) position { return position{n.Line, n.Column} }

// problem is one thing wrong with the configuration.
type problem struct {
	pos position
	key string // the YAML key path as written, or a label naming the env too
	msg string
}

// locator knows where the file sets each key, so that a problem found
// after decoding (by validation, or by a source's adapter or mapping) can
// point at the line to fix.
type locator struct {
	file    string
	keys    map[string]position // key path → the key's place in the file
	fromEnv map[string]bool     // key paths an environment variable set
	// refused holds the key paths whose value in the file was not read: a
	// value of the wrong type, or a misspelled key's (under the key it
	// resembles). What their defaults lack is not reported again.
	refused map[string]bool
}

// collector gathers problems while Load runs.
type collector struct {
	*locator
	list   []problem
	syntax bool
}

func newCollector(file string) *collector {
	return &collector{locator: &locator{
		file: file, keys: map[string]position{}, fromEnv: map[string]bool{}, refused: map[string]bool{},
	}}
}

func (c *collector) add(pos position, key, format string, a ...any) {
	c.list = append(c.list, problem{pos: pos, key: key, msg: fmt.Sprintf(format, a...)})
}

// quotedKey is a map key in a validation key path: routes["ana"].
var quotedKey = regexp.MustCompile(`\["((?:[^"\\]|\\.)*)"\]`)

// where is the place in the file of key, or of its nearest ancestor the
// file sets ("sources.x.kind" that is missing is reported at "sources.x").
// A key an environment variable set has no place in the file.
func (c *locator) where(key string) position {
	if c == nil || c.fromEnv[key] {
		return position{}
	}
	key = plainKey(key)
	for key != "" {
		if p, ok := c.keys[key]; ok {
			return p
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return position{}
}

// isRefused reports whether the file's value for key was not read, and no
// environment variable set one instead.
func (c *locator) isRefused(key string) bool {
	return c != nil && !c.fromEnv[key] && c.refused[plainKey(key)]
}

// plainKey writes a validation key path as the file's keys are recorded:
// agents.routes["ana"].agent → agents.routes.ana.agent.
func plainKey(key string) string {
	return quotedKey.ReplaceAllStringFunc(key, func(m string) string {
		s, err := strconv.Unquote(m[1 : len(m)-1])
		if err != nil {
			return m
		}
		return "." + s
	})
}

// err returns the problems as an *Error (nil when there are none): those
// in the file first, in the file's order, then the others as found.
func (c *collector) err() error {
	if len(c.list) == 0 {
		return nil
	}
	list := append([]problem(nil), c.list...)
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i].pos, list[j].pos
		switch {
		case a.line == 0 || b.line == 0:
			return a.line != 0 && b.line == 0
		case a.line != b.line:
			return a.line < b.line
		}
		return a.col < b.col
	})
	e := &Error{Problems: make([]string, len(list)), syntax: c.syntax}
	for i, p := range list {
		e.Problems[i] = c.text(p)
	}
	return e
}

func (c *collector) text(p problem) string {
	s := p.msg
	if p.key != "" {
		s = p.key + ": " + s
	}
	if where := c.format(p.pos); where != "" {
		return where + ": " + s
	}
	return s
}

// format writes pos as "FILE:LINE:COL" ("" when it is not in the file).
func (c *locator) format(pos position) string {
	switch {
	case pos.line > 0 && pos.col > 0:
		return fmt.Sprintf("%s:%d:%d", c.file, pos.line, pos.col)
	case pos.line > 0:
		return fmt.Sprintf("%s:%d", c.file, pos.line)
	}
	return ""
}
