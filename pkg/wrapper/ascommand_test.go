package wrapper

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// Run by an enclosing wrapper, a Go analysis takes its own flags and refuses the wrapper's.
func TestRunAsCommandTakesOnlyTheAnalysisFlags(t *testing.T) {
	type own struct {
		Workers int `name:"workers" default:"1"`
	}
	tests := []struct {
		name        string
		withFlags   bool
		args        []string
		wantCode    int
		wantWorkers int
		wantStderr  string
	}{
		{"no flags", true, nil, fault.ExitOK, 1, ""},
		{"its own flag", true, []string{"--workers", "3"}, fault.ExitOK, 3, ""},
		{"a wrapper flag", true, []string{"--dry_run=0"}, fault.ExitUsage, 0, "unknown flag --dry_run"},
		{"flags of an analysis without any", false, []string{"--workers", "3"}, fault.ExitUsage, 0, "belong to the wrapper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			jobFile := filepath.Join(dir, "job.json")
			if err := os.WriteFile(jobFile, []byte(`{"s3_location": ["s3://b/a"], "asset_name": ["a"], "docdb_record_id": ["id"]}`), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Setenv(EnvJobFile, jobFile)
			t.Setenv(EnvOutputDir, dir)
			t.Setenv(EnvOutputsFile, filepath.Join(dir, "outputs.json"))
			t.Setenv(EnvParametersFile, "")
			flags := &own{}
			ran := 0
			a := GoAnalysis{Name: "a", Run: func(ctx context.Context, in Input) (map[string]any, error) {
				ran = flags.Workers
				return map[string]any{"n": len(in.Job.S3Location)}, nil
			}}
			if tt.withFlags {
				a.Flags = flags
			}
			var stderr bytes.Buffer
			if code := runAsCommand(a, tt.args, &stderr); code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, tt.wantCode, stderr.String())
			}
			if ran != tt.wantWorkers {
				t.Errorf("the analysis saw --workers %d, want %d", ran, tt.wantWorkers)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q, want it to say %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}
