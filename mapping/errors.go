package mapping

import (
	"errors"
	"sort"
	"strings"
)

// ErrMappingFailed is what every *Error matches with errors.Is: the event was
// understood but could not be turned into a complete AgentCall.
var ErrMappingFailed = errors.New("mapping failed")

// Problem is one configuration mistake found by Compile.
type Problem struct {
	Key     string // e.g. "mapping.destination", "region", "agents.routes.71234567"
	Message string
}

// CompileError lists every problem of one source's mapping configuration, so
// that an admin can fix them all in one pass instead of one per restart.
type CompileError struct {
	Source   string
	Problems []Problem
}

func (e *CompileError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(`source "`)
		b.WriteString(e.Source)
		b.WriteString(`": `)
		b.WriteString(p.Key)
		b.WriteString(": ")
		b.WriteString(p.Message)
	}
	return b.String()
}

// Error is a mapping failure for one event. Fields maps a parameter name
// (or "when") to what went wrong; all problems are reported at once.
type Error struct {
	Fields map[string]string
}

func (e *Error) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(ErrMappingFailed.Error())
	b.WriteString(": ")
	for i, k := range keys {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(e.Fields[k])
	}
	return b.String()
}

// Is reports whether target is ErrMappingFailed.
func (e *Error) Is(target error) bool { return target == ErrMappingFailed }

// Unwrap returns ErrMappingFailed.
func (e *Error) Unwrap() error { return ErrMappingFailed }
