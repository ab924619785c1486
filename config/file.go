package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// varRef is a ${VAR} reference in the YAML file.
var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// yamlLine is how yaml.v3 prefixes an error with its line.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// readFile parses raw, replaces ${VAR} references, checks every key and
// value against Config's types and decodes what is valid over the
// defaults already in c. Every problem goes to col, so that one run lists
// them all.
func readFile(c *Config, raw []byte, getenv func(string) string, col *collector) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		// Past a syntax error yaml.v3 gives no tree, and nothing in the file
		// can be trusted; the references are still worth reporting.
		col.syntax = true
		pos, msg := splitLine(err.Error())
		if line := syntaxLine(raw); line > 0 {
			pos = position{line: line}
		}
		col.add(pos, "", "YAML syntax error: %s (the file was not read; fix this first)", msg)
		missingRefs(raw, getenv, col)
		return
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return // empty, or only comments
	}
	expand(doc.Content[0], "", getenv, col)
	if !newChecker(col).value(doc.Content[0], reflect.TypeFor[Config](), "") {
		return
	}
	// What is left decodes; should yaml.v3 still refuse something, it is
	// reported rather than lost.
	if err := doc.Decode(c); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			pos, msg := splitLine(err.Error())
			col.add(pos, "", "%s", msg)
			return
		}
		for _, e := range te.Errors {
			pos, msg := splitLine(e)
			col.add(pos, "", "%s", msg)
		}
	}
}

// splitLine takes yaml.v3's "yaml: line 3: ..." apart.
func splitLine(msg string) (position, string) {
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return position{}, strings.TrimPrefix(msg, "yaml: ")
	}
	line, _ := strconv.Atoi(m[1])
	return position{line: line}, m[2]
}

// maxSyntaxScan bounds syntaxLine's work, a parse per line, to files of
// the size a config has.
const maxSyntaxScan = 1000

// syntaxLine finds the line of a syntax error: the one after the longest
// run of whole lines that still parses. yaml.v3 often names another: for
// "did not find expected key" it gives the line where the enclosing
// mapping began, counted from 0; for an unclosed quote, the end of the
// file. 0 when the file is too long to scan.
func syntaxLine(raw []byte) int {
	ends := []int{0}
	for i, b := range raw {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) > maxSyntaxScan {
		return 0
	}
	for n := len(ends) - 1; n > 0; n-- {
		var doc yaml.Node
		if yaml.Unmarshal(raw[:ends[n]], &doc) == nil {
			return n + 1
		}
	}
	return 1
}

// expand replaces the ${VAR} references in the values of the tree. The
// value of a variable is text put in place of its reference, never YAML:
// a secret holding "#" or ": " stays whole, and a reference in a comment
// is not one. A plain (unquoted) value is then read again, so that
// "workers: ${WORKERS}" is the number the variable holds.
func expand(n *yaml.Node, path string, getenv func(string) string, col *collector) {
	switch n.Kind {
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		n.Value = varRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			name := ref[2 : len(ref)-1]
			v := getenv(name)
			if v == "" {
				col.add(at(n), path, "${%s} is referenced but the environment variable is not set", name)
			}
			return v
		})
		quoted := yaml.SingleQuotedStyle | yaml.DoubleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle | yaml.TaggedStyle
		if n.Style&quoted == 0 {
			n.Tag = ""
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			expand(e, fmt.Sprintf("%s[%d]", path, i), getenv, col)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			expand(n.Content[i+1], join(path, n.Content[i].Value), getenv, col)
		}
	}
}

// missingRefs reports the ${VAR} references to unset variables in a file
// that could not be parsed, skipping comment lines.
func missingRefs(raw []byte, getenv func(string) string, col *collector) {
	for i, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, m := range varRef.FindAllStringSubmatchIndex(line, -1) {
			if name := line[m[2]:m[3]]; getenv(name) == "" {
				col.add(position{i + 1, m[0] + 1}, "", "${%s} is referenced but the environment variable is not set", name)
			}
		}
	}
}
