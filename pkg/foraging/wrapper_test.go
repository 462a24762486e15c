package foraging

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/wrapper"
)

// TestThroughWrapperLocal runs the analysis as cmd/aind-foraging does (wrapper.MainArgs),
// dry run, on a grouped job whose assets are local folders.
func TestThroughWrapperLocal(t *testing.T) {
	for _, k := range []string{"DOCDB_URI", "DOCDB_HOST", "DOCDB_COLLECTION", "ANALYSIS_BUCKET"} {
		t.Setenv(k, "")
	}
	assets, _ := syntheticAsset(t, t.TempDir())
	in := t.TempDir()
	j := job.Job{S3Location: assets, AssetName: []string{"a1", "a2"}, DocDBRecordID: []string{"r1", "r2"},
		GroupMetadata: map[string]any{"subject__subject_id": "816886"}}
	name, err := j.FileName()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := j.Marshal()
	if err := os.MkdirAll(filepath.Join(in, "job_dict"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "job_dict", name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	params := `{"fixed_parameters": {"channels": {"G_0": "NAc DA", "G_1": "control"}, "last_n": 2, "plots": ["rpe_scatter"]}}`
	if err := os.WriteFile(filepath.Join(in, "analysis_parameters.json"), []byte(params), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	code := wrapper.MainArgs(Analysis(), []string{"--input_directory=" + in, "--output_directory=" + out,
		"--scratch_directory=" + t.TempDir(), "--log-level=warn"})
	if code != 0 {
		t.Fatalf("exit code %d", code)
	}
	entries, _ := os.ReadDir(out)
	var dir string
	for _, e := range entries {
		if e.IsDir() {
			dir = filepath.Join(out, e.Name())
		}
	}
	if dir == "" {
		t.Fatalf("no result folder in %v", entries)
	}
	b, err = os.ReadFile(filepath.Join(dir, "outputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		SubjectID string                            `json:"subject_id"`
		Channels  map[string]struct{ Label string } `json:"channels"`
		Files     []string                          `json:"files"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.SubjectID != "816886" || res.Channels["G_0"].Label != "NAc DA" || len(res.Files) != 4 {
		t.Errorf("outputs.json = %s", b)
	}
	for _, f := range append(res.Files, "metadata.nd.json") {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}
