package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/clitest"
)

// A --name that is neither a wrapper flag nor a property of the parameter schema is a
// usage error naming it and the nearest known flag; it never becomes a parameter (which
// left dry run on and put "dry_rn" into the job's identity). Checked under --parse-only,
// as the pipeline's CLI-sync test runs main.nf's command lines.
func TestMisspelledFlagIsAUsageError(t *testing.T) {
	schema := filepath.Join(t.TempDir(), "schema.json")
	if err := os.WriteFile(schema, []byte(`{"type": "object", "properties": {"window": {"type": "integer"}, "label": {"type": "string"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	withSchema := "--parameter_schema=" + schema
	tests := []struct {
		name string
		args []string
		code int
		want []string // substrings of stderr
	}{
		{"misspelled flag, no schema", []string{"--dry_rn=0"}, 2, []string{"--dry_rn", "did you mean --dry_run?", "--param dry_rn=<value>"}},
		{"misspelled empty flag, as Nextflow passes an unset param", []string{"--code_nam="}, 2, []string{"--code_nam", "did you mean --code_name?"}},
		{"misspelled flag with a separate value", []string{"--dry_rn", "0"}, 2, []string{"--dry_rn"}},
		{"bare parameter without a schema", []string{"--window=3"}, 2, []string{"--window", "--param window=<value>"}},
		{"misspelled flag, schema", []string{withSchema, "--dry_rn=0"}, 2, []string{"--dry_rn", "neither a flag nor a property of parameter schema " + schema, "did you mean --dry_run?"}},
		{"misspelled parameter, schema", []string{withSchema, "--windw=3"}, 2, []string{"--windw", "did you mean --window?"}},
		{"schema property", []string{withSchema, "--window=3", "--label", "x"}, 0, nil},
		{"schema property left empty", []string{withSchema, "--window="}, 0, nil},
		{"--param without a schema", []string{"--param", "window=3", "--param=label=a,b"}, 0, nil},
		{"missing schema file", []string{"--parameter_schema=" + schema + ".missing", "--window=3"}, 2, []string{schema + ".missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"run", "--parse-only"}, tt.args...), "--", "true")
			r := clitest.Run(t, binary, nil, args...)
			if r.Code != tt.code {
				t.Fatalf("aind-wrapper %s: exit %d, want %d\n%s", strings.Join(args, " "), r.Code, tt.code, r.Stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.Stderr, w) {
					t.Errorf("stderr does not contain %q:\n%s", w, r.Stderr)
				}
			}
		})
	}
}

// The override rule is documented where a user looks: `aind-wrapper run --help`.
func TestRunHelpDocumentsParameterOverrides(t *testing.T) {
	r := clitest.Run(t, binary, nil, "run", "--help")
	for _, w := range []string{"--param k=v", "--parameter_overrides", "neither a flag nor a property", "True/False/None"} {
		if r.Code != 0 || !strings.Contains(strings.Join(strings.Fields(r.Stdout), " "), w) {
			t.Errorf("run --help (exit %d) does not say %q:\n%s", r.Code, w, r.Stdout)
		}
	}
}
