package nextflow

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The cases of a real `nextflow run` (issue "Run the pipeline for real", a–h). The test
// profile runs the shell analysis over the sample assets: 3 mice, one job each.

const testProfileJobs = 3

// TestNextflowTestProfile: the test profile end to end, the publish layout the README
// documents (<outdir>/<hash>/ beside pipeline_info/), every result verified against its
// manifest and recorded; then a second run dispatches nothing (every job is done).
func TestNextflowTestProfile(t *testing.T) {
	p := newPipeline(t)
	r := p.run("-profile", "test")
	if r.exit != 0 || r.count("DISPATCH", "COMPLETED") != 1 || r.count("WRAPPER", "COMPLETED") != testProfileJobs || len(r.tasks) != 1+testProfileJobs {
		t.Fatalf("first run: want DISPATCH and %d WRAPPER tasks completed: %s", testProfileJobs, r)
	}
	results, markers := p.published()
	if len(results) != testProfileJobs || len(markers) != 0 {
		t.Fatalf("published %v and markers %v, want %d results", results, markers, testProfileJobs)
	}
	for _, h := range results {
		p.verifyResult(h)
		if _, err := os.Stat(filepath.Join(p.outdir, h, "report.txt")); err != nil {
			t.Errorf("result %s lacks the analysis' report.txt", h)
		}
	}
	if recs := p.records(); !equal(recs, results) {
		t.Fatalf("records %v, published %v: want one record per result", recs, results)
	}

	again := p.run("-profile", "test")
	if again.exit != 0 || again.count("DISPATCH", "COMPLETED") != 1 || len(again.tasks) != 1 {
		t.Fatalf("second run: want DISPATCH only (every job done): %s", again)
	}
	if recs := p.records(); len(recs) != testProfileJobs {
		t.Fatalf("second run changed the records: %v", recs)
	}
}

// TestNextflowBatchedTask: --tasks_per_job puts the test profile's jobs into one WRAPPER
// task, tagged with its first job and how many more ("job_0b2a... +2", not every name);
// each of its jobs is published and recorded.
func TestNextflowBatchedTask(t *testing.T) {
	p := newPipeline(t)
	r := p.run("-profile", "test", "--tasks_per_job", strconv.Itoa(testProfileJobs))
	if r.exit != 0 || r.count("WRAPPER", "COMPLETED") != 1 || len(r.tasks) != 2 {
		t.Fatalf("want DISPATCH and one WRAPPER task of %d jobs: %s", testProfileJobs, r)
	}
	tag := regexp.MustCompile(`^job_[0-9a-f]{20} \+` + strconv.Itoa(testProfileJobs-1) + `$`)
	for _, task := range r.tasks {
		if task.Process == "WRAPPER" && !tag.MatchString(task.Tag) {
			t.Errorf("WRAPPER tag %q, want its first job and +%d", task.Tag, testProfileJobs-1)
		}
	}
	results, _ := p.published()
	if recs := p.records(); len(results) != testProfileJobs || !equal(recs, results) {
		t.Fatalf("published %v, records %v: want %d, one record each", results, recs, testProfileJobs)
	}
	for _, h := range results {
		p.verifyResult(h)
	}
}

// TestNextflowDefaults: nextflow.config's defaults with only --input, --outdir and
// --analysis_command (no schemas, no code name, dry run): every task succeeds. Then
// -resume re-uses every WRAPPER task (DISPATCH runs again and writes the same job files).
func TestNextflowDefaults(t *testing.T) {
	p := newPipeline(t)
	input := t.TempDir()
	query := `{"subject.subject_id": "774659", "data_description.process_name": "processed"}`
	if err := os.WriteFile(filepath.Join(input, "input_query.json"), []byte(query), 0o644); err != nil {
		t.Fatal(err)
	}
	// One job per matching record: no grouping, no file discovery by default.
	n, err := p.ds.Mongo(t).Database("metadata_index").Collection("data_assets").CountDocuments(context.Background(),
		bson.D{{Key: "subject.subject_id", Value: "774659"}, {Key: "data_description.process_name", Value: "processed"}})
	if err != nil || n < 2 {
		t.Fatalf("the seed has %d processed assets of mouse 774659 (%v), want at least 2", n, err)
	}
	jobs := int(n)
	r := p.run("--input", input, "--analysis_command", "true")
	if r.exit != 0 || r.count("DISPATCH", "COMPLETED") != 1 || r.count("WRAPPER", "COMPLETED") != jobs || len(r.tasks) != 1+jobs {
		t.Fatalf("want DISPATCH and %d WRAPPER tasks completed: %s", jobs, r)
	}
	results, _ := p.published()
	if len(results) != jobs {
		t.Fatalf("published %v, want %d dry-run results", results, jobs)
	}
	for _, h := range results {
		if _, err := os.Stat(filepath.Join(p.outdir, h, "metadata.nd.json")); err != nil {
			t.Errorf("dry-run result %s lacks metadata.nd.json: %v", h, err)
		}
	}
	if recs := p.records(); len(recs) != 0 {
		t.Fatalf("a dry run recorded %v", recs)
	}

	resumed := p.run("--input", input, "--analysis_command", "true", "-resume")
	if resumed.exit != 0 || resumed.count("DISPATCH", "COMPLETED") != 1 || resumed.count("WRAPPER", "CACHED") != jobs || len(resumed.tasks) != 1+jobs {
		t.Fatalf("-resume: want DISPATCH run again and %d WRAPPER tasks cached: %s", jobs, resumed)
	}
}

// TestNextflowResumeNewAsset: after a complete run, one new asset is added to DocDB and S3;
// -resume runs exactly one new WRAPPER task (DISPATCH is never cached: DocDB changed).
func TestNextflowResumeNewAsset(t *testing.T) {
	p := newPipeline(t)
	assetDB := p.ds.NewDatabase(t)
	raw, err := os.ReadFile(filepath.Join(p.root, "testdata", "devstack", "docdb", "metadata_index", "data_assets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(raw, &raws); err != nil {
		t.Fatal(err)
	}
	var docs []any
	for _, r := range raws {
		var doc bson.D
		if err := bson.UnmarshalExtJSON(r, false, &doc); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, doc)
	}
	p.ds.InsertDocs(t, assetDB, "data_assets", docs)
	p.env["DOCDB_ASSET_DATABASE"], p.env["DOCDB_ASSET_COLLECTION"] = assetDB, "data_assets"

	first := p.run("-profile", "test")
	if first.exit != 0 || first.count("WRAPPER", "COMPLETED") != testProfileJobs {
		t.Fatalf("first run: %s", first)
	}
	assets := p.ds.NewBucket(t)
	p.ds.PutObjects(t, assets, map[string]string{"behavior_999999_2026-01-02_10-00-00/nwb/session.nwb": "new"})
	p.ds.InsertDocs(t, assetDB, "data_assets", []any{bson.D{
		{Key: "_id", Value: "new-asset-999999"},
		{Key: "name", Value: "behavior_999999_2026-01-02_10-00-00"},
		{Key: "location", Value: "s3://" + assets + "/behavior_999999_2026-01-02_10-00-00"},
		{Key: "subject", Value: bson.D{{Key: "subject_id", Value: "999999"}}},
		{Key: "created", Value: "2026-01-02T11:00:00Z"},
		{Key: "data_description", Value: bson.D{{Key: "process_name", Value: "processed"}, {Key: "input_data_name", Value: "behavior_999999_2026-01-02_10-00-00"}}},
	}})

	resumed := p.run("-profile", "test", "-resume")
	if resumed.exit != 0 || resumed.count("DISPATCH", "COMPLETED") != 1 || resumed.count("WRAPPER", "COMPLETED") != 1 || len(resumed.tasks) != 2 {
		t.Fatalf("-resume after a new asset: want DISPATCH and exactly one new WRAPPER task: %s", resumed)
	}
	if recs := p.records(); len(recs) != testProfileJobs+1 {
		t.Fatalf("records %v, want %d", recs, testProfileJobs+1)
	}
}

// TestNextflowRetryAndFailure: an analysis exiting 75 is retried by the error strategy and
// succeeds on the retry; one exiting 1 is reported (its failed_ marker published, the run
// exits non-zero) while the other jobs finish. The tasks also see DOCDB_*, ANALYSIS_BUCKET
// and AWS_* from the launching environment.
func TestNextflowRetryAndFailure(t *testing.T) {
	p := newPipeline(t)
	state := t.TempDir()
	script := filepath.Join(t.TempDir(), "flaky.sh")
	const failing = "774659"
	err := os.WriteFile(script, []byte(`#!/bin/sh
# exit 75 on each job's first attempt; then exit 1 for mouse `+failing+`; else succeed.
set -eu
if [ ! -e "$FLAKY_STATE/$AIND_JOB_HASH" ]; then touch "$FLAKY_STATE/$AIND_JOB_HASH"; echo "transient" >&2; exit 75; fi
if grep -q '"`+failing+`"' "$AIND_JOB_FILE"; then echo "this mouse fails" >&2; exit 1; fi
env | cut -d= -f1 | grep -E '^(DOCDB_|ANALYSIS_BUCKET|AWS_)' | sort > "$AIND_OUTPUT_DIR/env_names.txt"
echo '{"n_files": 0}' > "$AIND_OUTPUTS_FILE"
`), 0o755)
	if err != nil {
		t.Fatal(err)
	}
	r := p.nextflow(map[string]string{"FLAKY_STATE": state}, "run", p.root, "--outdir", p.outdir,
		"-profile", "test", "--analysis_command", script, "--retry_backoff_seconds", "0")
	if r.exit == 0 || !strings.Contains(r.output, "1 job(s) failed") {
		t.Fatalf("want a non-zero exit naming the failed job: %s", r)
	}
	if got := r.count("WRAPPER", "FAILED"); got != testProfileJobs {
		t.Errorf("%d first attempts failed, want %d (exit 75, retried): %s", got, testProfileJobs, r)
	}
	if got := r.count("WRAPPER", "COMPLETED"); got != testProfileJobs {
		t.Errorf("%d retries completed, want %d: %s", got, testProfileJobs, r)
	}
	for _, task := range r.tasks {
		if task.Process == "WRAPPER" && ((task.Status == "FAILED") != (task.Exit == 75) || (task.Attempt == 2) != (task.Status == "COMPLETED")) {
			t.Errorf("task %+v: want attempt 1 failed with 75, attempt 2 completed", task)
		}
	}
	results, markers := p.published()
	if len(markers) != 1 || !strings.HasPrefix(markers[0], "failed_") {
		t.Fatalf("markers %v, want one failed_ marker", markers)
	}
	if len(results) != testProfileJobs || len(p.records()) != testProfileJobs-1 {
		t.Fatalf("results %v, records %v: want every job's folder and %d records", results, p.records(), testProfileJobs-1)
	}
	var sawEnv bool
	for _, h := range results {
		b, err := os.ReadFile(filepath.Join(p.outdir, h, "env_names.txt"))
		if err != nil {
			continue // the failed job's folder
		}
		sawEnv = true
		for _, name := range []string{"ANALYSIS_BUCKET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DOCDB_COLLECTION", "DOCDB_DATABASE"} {
			if !strings.Contains("\n"+string(b), "\n"+name+"\n") {
				t.Errorf("task environment lacks %s: %s", name, b)
			}
		}
	}
	if !sawEnv {
		t.Error("no result recorded the task environment")
	}
}

// TestNextflowEmptySelection: a query matching nothing: DISPATCH succeeds, no WRAPPER task
// runs and the pipeline exits 0.
func TestNextflowEmptySelection(t *testing.T) {
	p := newPipeline(t)
	r := p.run("-profile", "test", "--docdb_query", `{"subject.subject_id": "nobody"}`)
	if r.exit != 0 || r.count("DISPATCH", "COMPLETED") != 1 || len(r.tasks) != 1 {
		t.Fatalf("want DISPATCH only, exit 0: %s", r)
	}
	if results, markers := p.published(); len(results)+len(markers) != 0 {
		t.Fatalf("published %v %v", results, markers)
	}
}

// TestNextflowStubRun: -stub-run runs each process' stub: one DISPATCH, one WRAPPER, and
// nothing reaches DocDB.
func TestNextflowStubRun(t *testing.T) {
	p := newPipeline(t)
	r := p.run("-profile", "test", "-stub-run")
	if r.exit != 0 || r.count("DISPATCH", "COMPLETED") != 1 || r.count("WRAPPER", "COMPLETED") != 1 {
		t.Fatalf("stub run: %s", r)
	}
	if _, err := os.Stat(filepath.Join(p.outdir, "stub", "metadata.nd.json")); err != nil {
		t.Fatalf("stub result not published: %v", err)
	}
	if recs := p.records(); len(recs) != 0 {
		t.Fatalf("a stub run recorded %v", recs)
	}
}

// TestNextflowConfigProfiles: the awsbatch, codeocean and docker profiles resolve; the
// credentials of the launching environment never appear in the resolved configuration
// (they are forwarded to tasks, not written into the config), and the container profiles
// pass every variable the tools read into the task.
func TestNextflowConfigProfiles(t *testing.T) {
	p := newPipeline(t)
	secrets := map[string]string{
		"AWS_SECRET_ACCESS_KEY": "secret-aws-key-4711",
		"AWS_SESSION_TOKEN":     "secret-session-4711",
		"DOCDB_URI":             "mongodb://user:secret-password-4711@docdb.example.org:27017/",
		"CO_CAPSULE_ID":         "capsule-4711",
	}
	for _, tt := range []struct {
		profile string
		want    []string
	}{
		// docs/SCALE.md's plan: 300 tasks at once (queue and maxForks), 20 submissions a
		// second, Spot reclaims retried by base.config's errorStrategy, no arrays by default.
		{"awsbatch", []string{"executor = 'awsbatch'", "region = 'us-west-2'", "maxSpotAttempts = 0",
			"$awsbatch {", "queueSize = 300", "submitRateLimit = '20/1sec'", "pollInterval = '10 sec'", "maxForks = 300", "array = null"}},
		{"codeocean", []string{"input = '/data/input_files'", "outdir = '/results'", "CO_CAPSULE_ID = 'capsule-4711'"}},
		{"docker", []string{"enabled = true", "envWhitelist = "}},
	} {
		t.Run(tt.profile, func(t *testing.T) {
			r := p.nextflow(secrets, "config", p.root, "-profile", tt.profile)
			if r.exit != 0 {
				t.Fatalf("nextflow config -profile %s: %s", tt.profile, r)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.output, w) {
					t.Errorf("resolved config lacks %q:\n%s", w, r.output)
				}
			}
			for k, v := range secrets {
				if k != "CO_CAPSULE_ID" && strings.Contains(r.output, v) {
					t.Errorf("the resolved config holds the value of %s", k)
				}
			}
			if tt.profile == "docker" {
				for _, name := range []string{"DOCDB_URI", "DOCDB_HOST", "DOCDB_DATABASE", "DOCDB_COLLECTION", "ANALYSIS_BUCKET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"} {
					if !strings.Contains(r.output, name) {
						t.Errorf("docker.envWhitelist lacks %s", name)
					}
				}
			}
		})
	}
}

// TestNextflowPodman: the test profile with every task in the images containers/build made
// (loaded into podman by containers/build --load), with the podman options this host needs
// (containers/podman-run-options) and host networking to reach the devstack.
func TestNextflowPodman(t *testing.T) {
	for _, image := range []string{"aind-tools:latest"} {
		if out, err := exec.Command("podman", "image", "exists", image).CombinedOutput(); err != nil {
			t.Fatalf("podman has no %s: run containers/build --load first (%v) %s", image, err, out)
		}
	}
	opts, err := exec.Command("../containers/podman-run-options").Output()
	if err != nil {
		t.Fatalf("containers/podman-run-options: %v", err)
	}
	p := newPipeline(t)
	p.env["PATH"] = os.Getenv("PATH") // the tools come from the image, not from the host
	p.env["AIND_PODMAN_RUN_OPTIONS"] = strings.TrimSpace(string(opts)) + " --network host"
	r := p.run("-profile", "test,podman")
	if r.exit != 0 || r.count("DISPATCH", "COMPLETED") != 1 || r.count("WRAPPER", "COMPLETED") != testProfileJobs {
		t.Fatalf("test,podman: %s", r)
	}
	runs, _ := filepath.Glob(filepath.Join(p.dir, "work", "*", "*", ".command.run"))
	for _, f := range runs {
		if b, _ := os.ReadFile(f); !strings.Contains(string(b), "podman run") {
			t.Fatalf("%s does not run its task in podman", f)
		}
	}
	results, _ := p.published()
	for _, h := range results {
		p.verifyResult(h)
	}
	if recs := p.records(); !equal(recs, results) || len(recs) != testProfileJobs {
		t.Fatalf("records %v, published %v", recs, results)
	}
}

// TestNextflowForaging: the test_foraging profile runs the example Go analysis as the
// pipeline's --analysis_command (aind-foraging under aind-wrapper), one job per mouse.
func TestNextflowForaging(t *testing.T) {
	p := newPipeline(t) // aind-foraging is on its PATH, built by TestMain
	r := p.run("-profile", "test_foraging")
	const mice = 2
	if r.exit != 0 || r.count("DISPATCH", "COMPLETED") != 1 || r.count("WRAPPER", "COMPLETED") != mice {
		t.Fatalf("test_foraging: %s", r)
	}
	results, _ := p.published()
	subjects := map[string]bool{}
	for _, h := range results {
		p.verifyResult(h)
		b, err := os.ReadFile(filepath.Join(p.outdir, h, "outputs.json"))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			SubjectID string `json:"subject_id"`
		}
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		subjects[out.SubjectID] = true
	}
	if len(subjects) != mice || !equal(p.records(), results) {
		t.Fatalf("subjects %v, results %v, records %v: want one recorded result per mouse", subjects, results, p.records())
	}
}

// TestNextflowPython: the test_python profile runs the Python example analysis
// (examples/python/analyse.py, standard library only) in command mode under the wrapper,
// one job per mouse; each result holds its CSV and the outputs its schema allows, and the
// parameters were defaulted from the schema pydantic exported (label) and overridden by
// analysis_parameters.json (min_files).
func TestNextflowPython(t *testing.T) {
	p := newPipeline(t)
	r := p.run("-profile", "test_python")
	if r.exit != 0 || r.count("DISPATCH", "COMPLETED") != 1 || r.count("WRAPPER", "COMPLETED") != testProfileJobs {
		t.Fatalf("test_python: %s", r)
	}
	results, markers := p.published()
	if len(results) != testProfileJobs || len(markers) != 0 {
		t.Fatalf("published %v and markers %v, want %d results", results, markers, testProfileJobs)
	}
	files := 0
	for _, h := range results {
		p.verifyResult(h)
		if _, err := os.Stat(filepath.Join(p.outdir, h, "files_per_asset.csv")); err != nil {
			t.Errorf("result %s lacks the analysis' files_per_asset.csv", h)
		}
		var meta struct {
			Processing struct {
				DataProcesses []struct {
					Code struct {
						Parameters map[string]any `json:"parameters"`
					} `json:"code"`
					OutputParameters struct {
						NFiles    int    `json:"n_files"`
						SubjectID string `json:"subject_id"`
					} `json:"output_parameters"`
				} `json:"data_processes"`
			} `json:"processing"`
		}
		b, err := os.ReadFile(filepath.Join(p.outdir, h, "metadata.nd.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &meta); err != nil || len(meta.Processing.DataProcesses) != 1 {
			t.Fatalf("result %s: metadata %v", h, err)
		}
		dp := meta.Processing.DataProcesses[0]
		if dp.Code.Parameters["label"] != "demo" || dp.Code.Parameters["min_files"] != float64(2) || dp.OutputParameters.SubjectID == "" {
			t.Errorf("result %s: parameters %v, outputs %+v: want label demo (schema default), min_files 2, a subject", h, dp.Code.Parameters, dp.OutputParameters)
		}
		files += dp.OutputParameters.NFiles
	}
	if files == 0 {
		t.Error("the Python analysis counted no files in any job")
	}
	if recs := p.records(); !equal(recs, results) {
		t.Fatalf("records %v, published %v: want one record per result", recs, results)
	}
}
