package main

import (
	"os"
	"strings"
	"testing"

	"dialhook/crm"
)

// TestGuaranteesListEveryKind: the dedup-key table of docs/guarantees.md
// has a row for every source kind.
func TestGuaranteesListEveryKind(t *testing.T) {
	raw, err := os.ReadFile("docs/guarantees.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(raw), "## Dedup keys per kind")
	if !ok {
		t.Fatal("docs/guarantees.md has no section Dedup keys per kind")
	}
	for _, kind := range crm.Kinds {
		if !strings.Contains(table, "\n| `"+kind+"` |") {
			t.Errorf("the dedup-key table of docs/guarantees.md has no row for kind %s", kind)
		}
	}
}
