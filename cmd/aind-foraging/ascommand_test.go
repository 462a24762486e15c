package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/cmdline/dispatchcmd"
	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/clitest"
	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/devstacktest"
)

// TestRunsAsWrapperCommand runs the built aind-foraging as the analysis command of the built
// aind-wrapper (`aind-wrapper run -- aind-foraging`), as the pipeline's --analysis_command
// does: one job per mouse, each result holding the analysis' outputs and plots, while the
// binary run alone with a flag under a wrapper's environment is a usage error.
func TestRunsAsWrapperCommand(t *testing.T) {
	env := devstacktest.Get(t)
	env.Setenv(t)
	bins, cleanup := clitest.Build(".", "../aind-wrapper")
	defer cleanup()
	dispatched := filepath.Join(t.TempDir(), "dispatch")
	input := filepath.Join(devstacktest.RepoRoot(t), "testdata", "foraging", "demo", "input")
	if code := dispatchcmd.Main([]string{
		"--input_directory=" + input, "--output_directory=" + dispatched,
		"--asset_collection=foraging_assets", "--group_by=subject.subject_id", "--split_files=0", "--log-level=warn",
	}); code != 0 {
		t.Fatalf("dispatch exit code %d", code)
	}
	folders, _ := filepath.Glob(filepath.Join(dispatched, "*"))
	subjects := map[string]bool{}
	for _, folder := range folders {
		out := t.TempDir()
		cmd := exec.Command(bins["aind-wrapper"], "run", "--job_dict="+folder, "--input_directory="+input,
			"--output_directory="+out, "--scratch_directory="+t.TempDir(), "--log-level=warn",
			"--parameter_schema=../../pkg/foraging/parameter_schema.json",
			"--output_schema=../../pkg/foraging/output_schema.json", "--results_collection=results", "--", bins["aind-foraging"])
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aind-wrapper run -- aind-foraging on %s: %v\n%s", folder, err, b)
		}
		outputs, _ := filepath.Glob(filepath.Join(out, "*", "outputs.json"))
		if len(outputs) != 1 {
			t.Fatalf("results %v, want one outputs.json", outputs)
		}
		// The shipped parquet tables make parquet-go println warnings: they belong in the
		// debug log, never raw on the analysis' stderr (its analysis.log) or the wrapper's.
		alog, _ := os.ReadFile(filepath.Join(filepath.Dir(outputs[0]), "analysis.log"))
		if strings.Contains(string(alog)+string(b), "parquet: warning") {
			t.Errorf("a library's raw warning reached stderr:\n%s\n%s", alog, b)
		}
		for _, f := range []string{"weekly_G_0.png", "curves_G_1.csv", "metadata.nd.json"} {
			if _, err := os.Stat(filepath.Join(filepath.Dir(outputs[0]), f)); err != nil {
				t.Errorf("result lacks %s: %v", f, err)
			}
		}
		b, _ = os.ReadFile(outputs[0])
		var res struct {
			SubjectID string `json:"subject_id"`
		}
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatal(err)
		}
		subjects[res.SubjectID] = true
	}
	if len(subjects) != 2 || !subjects["816886"] || !subjects["900001"] {
		t.Errorf("analysed subjects %v, want 816886 and 900001", subjects)
	}

	cmd := exec.Command(bins["aind-foraging"], "--dry_run=0")
	cmd.Env = append(os.Environ(), "AIND_JOB_FILE=/nonexistent/job.json", "AIND_OUTPUT_DIR="+t.TempDir())
	b, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("aind-foraging --dry_run=0 under a wrapper's environment: %v, want exit 2\n%s", err, b)
	}
}
