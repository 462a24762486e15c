package main

import (
	"strings"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/clitest"
	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/golden"
)

// TestHelpGolden keeps every binary's --help (through the multi-call aind, which runs the
// same code as aind-dispatch, aind-wrapper and aind-results) and a Go analysis' (aind-foraging)
// in testdata/help-*.txt: a change to a flag or to the exit-code text shows in review.
// Rewrite them with go test ./cmd/aind -run TestHelpGolden -update.
func TestHelpGolden(t *testing.T) {
	bins, cleanup := clitest.Build(".", "../aind-foraging")
	defer cleanup()
	tests := []struct {
		golden string
		bin    string
		args   []string
	}{
		{"help-aind.txt", "aind", []string{"--help"}},
		{"help-aind-dispatch.txt", "aind", []string{"dispatch", "--help"}},
		{"help-aind-wrapper.txt", "aind", []string{"wrapper", "--help"}},
		{"help-aind-wrapper-run.txt", "aind", []string{"wrapper", "run", "--help"}},
		{"help-aind-results.txt", "aind", []string{"results", "--help"}},
		{"help-aind-results-query.txt", "aind", []string{"results", "query", "--help"}},
		{"help-aind-results-get.txt", "aind", []string{"results", "get", "--help"}},
		{"help-aind-results-ls.txt", "aind", []string{"results", "ls", "--help"}},
		{"help-aind-results-report.txt", "aind", []string{"results", "report", "--help"}},
		{"help-aind-foraging.txt", "aind-foraging", []string{"--help"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			r := clitest.Run(t, bins[tt.bin], nil, tt.args...)
			if r.Code != 0 || r.Stderr != "" {
				t.Fatalf("%s %s: exit %d, stderr %q", tt.bin, strings.Join(tt.args, " "), r.Code, r.Stderr)
			}
			golden.Check(t, tt.golden, []byte(r.Stdout))
		})
	}
}

// Each tool's exit-code text is its own: the wrapper's 75 names a claim held by another
// wrapper, the dispatcher's 1 names no jobs, and every flag shows its snake_case name.
func TestHelpSaysWhatEachExitCodeMeansForThatTool(t *testing.T) {
	bins, cleanup := clitest.Build(".")
	defer cleanup()
	flat := func(args ...string) string {
		r := clitest.Run(t, bins["aind"], nil, args...)
		if r.Code != 0 {
			t.Fatalf("aind %s: exit %d: %s", strings.Join(args, " "), r.Code, r.Stderr)
		}
		return strings.Join(strings.Fields(r.Stdout), " ")
	}
	dispatch, wrapper, results := flat("dispatch", "--help"), flat("wrapper", "run", "--help"), flat("results", "--help")
	for _, c := range []struct {
		tool, help string
		has, lacks []string
	}{
		{"dispatch", dispatch, []string{"75 DocDB or S3 unreachable", "no job folder is left", "--docdb_query=", "--split_files[=false]"}, []string{"claimed by another wrapper", "job failed", "--docdb-query="}},
		{"wrapper run", wrapper, []string{"claimed by another wrapper", "1 at least one job failed", "--dry_run[=false]", "--no-dry-run"}, []string{"no job folder", "--dry-run"}},
		{"results", results, []string{"differs from", "not a run folder"}, []string{"claimed by another wrapper", "job failed"}},
	} {
		for _, w := range c.has {
			if !strings.Contains(c.help, w) {
				t.Errorf("aind %s --help does not say %q", c.tool, w)
			}
		}
		for _, w := range c.lacks {
			if strings.Contains(c.help, w) {
				t.Errorf("aind %s --help says %q", c.tool, w)
			}
		}
	}
}
