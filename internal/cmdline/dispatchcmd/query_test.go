package dispatchcmd

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// TestParseQueryNamesWhereTheJSONIsBroken: a malformed query is a usage error naming its
// source (the flag or the file) and the true byte offset of the fault (the end of the
// input for a cut query, not position 0), with the line and column when the query spans
// lines; the JSON syntax error stays reachable with errors.As.
func TestParseQueryNamesWhereTheJSONIsBroken(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "q.json")
	if err := os.WriteFile(file, []byte("{\n  \"a\": 1,\n  \"b\": tru\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, arg, want string
		offset          int64
	}{
		{"cut short", `{"subject.subject_id": 774659`, "docdb_query: invalid JSON query at byte 29: unexpected end of JSON input", 29},
		{"a stray character", `{"a": 1 x}`, "docdb_query: invalid JSON query at byte 9: invalid character 'x' after object key:value pair", 9},
		{"a missing value", `{"a": }`, "docdb_query: invalid JSON query at byte 7: invalid character '}' looking for beginning of value", 7},
		{"text after the object", `{"a": 1} {}`, "docdb_query: invalid JSON query at byte 10: invalid character '{' after top-level value", 10},
		{"a file over lines", file, "docdb_query file " + file + ": invalid JSON query at byte 23 (line 3, column 11): invalid character '\\n' in literal true (expecting 'e')", 23},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseQuery(tt.arg, dir)
			if err == nil || !fault.IsUsage(err) || err.Error() != tt.want {
				t.Fatalf("error %v\nwant usage error %s", err, tt.want)
			}
			var se *json.SyntaxError
			if !errors.As(err, &se) || se.Offset != tt.offset {
				t.Fatalf("errors.As(*json.SyntaxError) = %v (%v), want offset %d", se, err, tt.offset)
			}
		})
	}
}

// TestParseQueryAcceptsExtendedJSON: the offset check does not refuse what parsed before:
// Mongo extended JSON over lines, and surrounding space.
func TestParseQueryAcceptsExtendedJSON(t *testing.T) {
	tests := []struct{ name, arg, compact string }{
		{"a date", `{"created": {"$gte": {"$date": "2025-01-01T00:00:00Z"}}}`, `{"created":{"$gte":{"$date":"2025-01-01T00:00:00Z"}}}`},
		{"over lines", "  {\n \"subject.subject_id\": \"774659\"\n}\n", `{"subject.subject_id":"774659"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, text, err := parseQuery(tt.arg, t.TempDir())
			if err != nil || len(q) != 1 || text != tt.compact {
				t.Fatalf("parseQuery = %v, %q, %v; want one key and %s", q, text, err, tt.compact)
			}
			if !strings.HasPrefix(text, "{") {
				t.Fatalf("text %q", text)
			}
		})
	}
}
