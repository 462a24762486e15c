package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/cmdline/dispatchcmd"
	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/devstacktest"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/foraging"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/wrapper"
)

func TestMain(m *testing.M) { os.Exit(devstacktest.Main(m)) }

// seedBucket holds the foraging assets of testdata/devstack/s3 (made by
// go run ./pkg/foraging/internal/gen).
const seedBucket = "aind-foraging-devstack"

// TestDevstackGroupedJob publishes the analysis of one mouse (the synthetic mouse 900001,
// CSV trial tables, two sessions in two weeks) read from the seeded devstack bucket.
func TestDevstackGroupedJob(t *testing.T) {
	env := devstacktest.Get(t)
	env.Setenv(t)
	results := env.NewBucket(t)
	db := env.NewDatabase(t)
	var recs []struct {
		ID       string `json:"_id"`
		Name     string `json:"name"`
		Location string `json:"location"`
		Subject  struct {
			ID string `json:"subject_id"`
		} `json:"subject"`
	}
	b, err := os.ReadFile(filepath.Join(devstacktest.RepoRoot(t), "testdata", "devstack", "docdb", "metadata_index", "foraging_assets.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	var j job.Job
	for _, r := range recs {
		if r.Subject.ID == "900001" {
			j.S3Location = append(j.S3Location, r.Location)
			j.AssetName = append(j.AssetName, r.Name)
			j.DocDBRecordID = append(j.DocDBRecordID, r.ID)
		}
	}
	j.GroupMetadata = map[string]any{"subject__subject_id": "900001"}
	if len(j.S3Location) != 2 || !strings.HasPrefix(j.S3Location[0], "s3://"+seedBucket+"/") {
		t.Fatalf("job %+v", j)
	}
	in := t.TempDir()
	name, _ := j.FileName()
	jb, _ := j.Marshal()
	if err := os.MkdirAll(filepath.Join(in, "job_dict"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "job_dict", name), jb, 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	code := wrapper.MainArgs(foraging.Analysis(), append([]string{
		"--input_directory=" + in, "--output_directory=" + out, "--scratch_directory=" + t.TempDir(),
		"--dry_run=0", "--results_database=" + db, "--results_collection=results",
		"--analysis_bucket=s3://" + results + "/results", "--code_url=https://example.org/aind-foraging",
		"--code_version=0.1.0", "--log-level=warn",
	}, env.DocDBFlags()...))
	if code != 0 {
		t.Fatalf("exit code %d", code)
	}
	entries, _ := os.ReadDir(out)
	var hash string
	for _, e := range entries {
		if e.IsDir() {
			hash = e.Name()
		}
	}
	store, err := storage.New(context.Background(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	err = store.List(context.Background(), storage.MustParse("s3://"+results+"/results/"+hash), func(o storage.Object) error {
		got[o.Rel] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"outputs.json", "manifest.json", "metadata.nd.json", "weekly_G_0.png", "rpe_scatter_G_0.png", "curves_G_1.csv"} {
		if !got[f] {
			t.Errorf("%s not published; have %v", f, got)
		}
	}
	r, err := store.Open(context.Background(), storage.MustParse("s3://"+results+"/results/"+hash+"/outputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ob, _ := io.ReadAll(r)
	var res struct {
		SubjectID string `json:"subject_id"`
		Sessions  []struct {
			Week int `json:"week"`
		} `json:"sessions"`
		Channels map[string]struct {
			Weekly []any `json:"weekly"`
		} `json:"channels"`
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal(ob, &res); err != nil {
		t.Fatal(err)
	}
	if res.SubjectID != "900001" || len(res.Sessions) != 2 || res.Sessions[1].Week != 2 || len(res.Channels["G_0"].Weekly) != 2 || len(res.Warnings) != 0 {
		t.Errorf("outputs.json: %s", ob)
	}
}

// TestDevstackDispatchThenWrapper is the demo's path: aind-dispatch selects the seeded
// foraging records (metadata_index.foraging_assets), one job per mouse, and the analysis
// runs through the wrapper on each job and is published.
func TestDevstackDispatchThenWrapper(t *testing.T) {
	env := devstacktest.Get(t)
	env.Setenv(t)
	results, db := env.NewBucket(t), env.NewDatabase(t)
	dispatched := filepath.Join(t.TempDir(), "dispatch")
	input := filepath.Join(devstacktest.RepoRoot(t), "testdata", "foraging", "demo", "input")
	code := dispatchcmd.Main([]string{
		"--input_directory=" + input, "--output_directory=" + dispatched,
		"--asset_collection=foraging_assets", "--group_by=subject.subject_id", "--split_files=0", "--log-level=warn",
	})
	if code != 0 {
		t.Fatalf("dispatch exit code %d", code)
	}
	folders, _ := filepath.Glob(filepath.Join(dispatched, "*"))
	subjects := map[string]bool{}
	for _, folder := range folders {
		files, err := job.ReadDir(folder)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if len(f.Job.S3Location) != 2 {
				t.Errorf("job %+v: want the 2 sessions of one mouse", f.Job)
			}
		}
		out := t.TempDir()
		code := wrapper.MainArgs(foraging.Analysis(), []string{"--job_dict=" + folder, "--input_directory=" + input,
			"--output_directory=" + out, "--scratch_directory=" + t.TempDir(), "--log-level=warn",
			"--dry_run=0", "--results_database=" + db, "--results_collection=results", "--analysis_bucket=s3://" + results,
			"--code_url=https://example.org/aind-foraging", "--code_version=0.1.0"})
		if code != 0 {
			t.Fatalf("wrapper on %s: exit code %d", folder, code)
		}
		outputs, _ := filepath.Glob(filepath.Join(out, "*", "outputs.json"))
		for _, o := range outputs {
			b, _ := os.ReadFile(o)
			var res struct {
				SubjectID string `json:"subject_id"`
			}
			_ = json.Unmarshal(b, &res)
			subjects[res.SubjectID] = true
		}
	}
	if len(subjects) != 2 || !subjects["816886"] || !subjects["900001"] {
		t.Errorf("analysed subjects %v, want 816886 and 900001 (one job each)", subjects)
	}
}
