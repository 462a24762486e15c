package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/clitest"
	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/devstacktest"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
)

var binary string

func TestMain(m *testing.M) {
	bins, cleanup := clitest.Build(".")
	binary = bins["aind-dispatch"]
	code := devstacktest.Main(m)
	cleanup()
	os.Exit(code)
}

// run executes the built binary with the devstack environment plus extra variables.
func run(t *testing.T, env map[string]string, args ...string) clitest.Result {
	t.Helper()
	return clitest.Run(t, binary, env, args...)
}

type stack struct {
	env    map[string]string
	db     string
	bucket string
}

// newStack seeds three assets of two subjects in their own database and bucket.
func newStack(t *testing.T) stack {
	t.Helper()
	ds := devstacktest.Get(t)
	s := stack{env: map[string]string{}, db: ds.NewDatabase(t), bucket: ds.NewBucket(t)}
	for k, v := range ds.Vars {
		s.env[k] = v
	}
	s.env["DOCDB_ASSET_DATABASE"] = s.db
	var docs []any
	for _, a := range []struct{ id, subject string }{{"a1", "100"}, {"a2", "100"}, {"b1", "200"}} {
		docs = append(docs, bson.D{
			{Key: "_id", Value: a.id}, {Key: "name", Value: "asset_" + a.id},
			{Key: "location", Value: "s3://" + s.bucket + "/" + a.id},
			{Key: "subject", Value: bson.D{{Key: "subject_id", Value: a.subject}}},
			{Key: "external_links", Value: bson.D{{Key: "Code Ocean", Value: []string{"co-" + a.id}}}},
		})
	}
	ds.InsertDocs(t, s.db, "data_assets", docs)
	ds.PutObjects(t, s.bucket, map[string]string{"a1/nwb/a1.nwb": "x", "a2/nwb/a2.nwb": "x", "b1/other.txt": "x"})
	return s
}

func jobsIn(t *testing.T, dir string) []job.Job {
	t.Helper()
	var all []job.Job
	folders, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range folders {
		if st, err := os.Stat(f); err != nil || !st.IsDir() {
			continue
		}
		files, err := job.ReadDir(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, fl := range files {
			all = append(all, fl.Job)
		}
	}
	return all
}

func TestCodeOceanFlagsAndQueryFile(t *testing.T) {
	s := newStack(t)
	in := t.TempDir()
	out := filepath.Join(t.TempDir(), "results")
	if err := os.WriteFile(filepath.Join(in, "input_query.json"), []byte(`{"subject.subject_id": "100"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, s.env, "--input_directory="+in, "--output_directory="+out, "--file_extension=.nwb", "--split_files=0", "--group_by=subject.subject_id", "--tasks_per_job=1")
	if r.Code != 0 {
		t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
	}
	jobs := jobsIn(t, out)
	if len(jobs) != 1 || strings.Join(jobs[0].DocDBRecordID, ",") != "a1,a2" || len(jobs[0].FileLocation) != 2 {
		t.Fatalf("jobs %+v", jobs)
	}
	// The query matches a1 and a2 only (b1 is subject 200).
	if !strings.Contains(r.Stdout, "2 records matched, 1 groups,") {
		t.Fatalf("summary line on stdout %q, want 2 records matched in 1 group", r.Stdout)
	}
	if !strings.Contains(r.Stdout, "1 written to 1 task folders") {
		t.Fatalf("summary %q", r.Stdout)
	}
}

func TestEnvironmentVariablesSetFlags(t *testing.T) {
	s := newStack(t)
	out := filepath.Join(t.TempDir(), "results")
	env := map[string]string{"DOCDB_QUERY": `{}`, "GROUP_BY": "subject.subject_id", "OUTPUT_DIRECTORY": out, "INPUT_DIRECTORY": t.TempDir()}
	for k, v := range s.env {
		env[k] = v
	}
	r := run(t, env)
	if r.Code != 0 {
		t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
	}
	if jobs := jobsIn(t, out); len(jobs) != 2 {
		t.Fatalf("want 2 subject groups, got %d", len(jobs))
	}
}

func TestCSVMode(t *testing.T) {
	s := newStack(t)
	in := t.TempDir()
	out := filepath.Join(t.TempDir(), "results")
	csv := "\xef\xbb\xbfasset_id,comment\nco-a1,first\n,empty row\nco-b1,third\n"
	if err := os.WriteFile(filepath.Join(in, "assets.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, s.env, "--use_data_asset_csv=1", "--input_directory="+in, "--output_directory="+out)
	if r.Code != 0 {
		t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
	}
	var ids []string
	for _, j := range jobsIn(t, out) {
		ids = append(ids, j.DocDBRecordID...)
	}
	if strings.Join(ids, ",") != "a1,b1" && strings.Join(ids, ",") != "b1,a1" {
		t.Fatalf("CSV selected %v, want a1 and b1", ids)
	}
}

func TestEmptySelectionExitsZeroWithPlaceholder(t *testing.T) {
	s := newStack(t)
	out := filepath.Join(t.TempDir(), "results")
	r := run(t, s.env, "--docdb_query", `{"subject.subject_id": "nobody"}`, "--input_directory="+t.TempDir(), "--output_directory="+out)
	if r.Code != 0 {
		t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "NO_JOBS.txt")); err != nil {
		t.Fatalf("no placeholder: %v", err)
	}
	if !strings.Contains(r.Stdout, "0 records matched") {
		t.Fatalf("summary %q", r.Stdout)
	}
}

func TestErrors(t *testing.T) {
	s := newStack(t)
	badCSV := t.TempDir()
	if err := os.WriteFile(filepath.Join(badCSV, "ids.csv"), []byte("id\nco-a1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	emptyCSV := t.TempDir()
	if err := os.WriteFile(filepath.Join(emptyCSV, "ids.csv"), []byte("asset_id\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badQueryFile := filepath.Join(t.TempDir(), "q.json")
	if err := os.WriteFile(badQueryFile, []byte(`{"a": `), 0o644); err != nil {
		t.Fatal(err)
	}
	badParams := t.TempDir()
	if err := os.WriteFile(filepath.Join(badParams, "analysis_parameters.json"), []byte(`{"distributed_parameters": {"a": 1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	unreachable := map[string]string{}
	for k, v := range s.env {
		unreachable[k] = v
	}
	unreachable["DOCDB_URI"] = "mongodb://user:hunter2@127.0.0.1:1/"
	unreachable["DOCDB_TIMEOUT"] = "300ms"
	attempts := "after 3 attempts"
	if unreachable["DOCDB_HOST"] != "" { // AIND_TEST_DOCDB=gateway
		unreachable["DOCDB_URI"], unreachable["DOCDB_HOST"] = "", "http://127.0.0.1:1"
		unreachable["AWS_SECRET_ACCESS_KEY"] = "hunter2"
		attempts = "after 5 attempts"
	}
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		code  int
		wants []string
	}{
		{"malformed query", s.env, []string{"--docdb_query", `{"subject": `}, 2, []string{"docdb_query", "invalid JSON"}},
		{"malformed query file", s.env, []string{"--docdb_query", badQueryFile}, 2, []string{badQueryFile, "invalid JSON"}},
		{"missing query file", s.env, []string{"--docdb_query", "/nonexistent/q.json"}, 2, []string{"/nonexistent/q.json"}},
		{"CSV without asset_id", s.env, []string{"--use_data_asset_csv=1", "--input_directory=" + badCSV}, 2, []string{"ids.csv", "asset_id"}},
		{"CSV without ids", s.env, []string{"--use_data_asset_csv=1", "--input_directory=" + emptyCSV}, 2, []string{"ids.csv", "no ids"}},
		{"no CSV", s.env, []string{"--use_data_asset_csv=1", "--input_directory=" + t.TempDir()}, 2, []string{"no *.csv"}},
		{"filter_latest without filter_by", s.env, []string{"--docdb_query={}", "--filter_latest=created"}, 2, []string{"filter_latest", "filter_by"}},
		{"split_files on a group", s.env, []string{"--docdb_query={}", "--group_by=subject.subject_id", "--file_extension=.nwb"}, 2, []string{"split_files", "group"}},
		{"bad parameters file", s.env, []string{"--docdb_query={}", "--input_directory=" + badParams}, 2, []string{"analysis_parameters.json", "distributed_parameters"}},
		{"bad flag value", s.env, []string{"--docdb_query={}", "--use_data_asset_csv=maybe"}, 2, []string{"use-data-asset-csv"}},
		{"DocDB unreachable", unreachable, []string{"--docdb_query={}"}, 75, []string{"DocDB", "127.0.0.1:1", attempts}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "results")
			args := append([]string{"--output_directory=" + out}, tt.args...)
			if !strings.Contains(strings.Join(tt.args, " "), "--input_directory") {
				args = append(args, "--input_directory="+t.TempDir())
			}
			r := run(t, tt.env, args...)
			if r.Code != tt.code {
				t.Fatalf("exit %d, want %d\nstderr: %s", r.Code, tt.code, r.Stderr)
			}
			for _, w := range tt.wants {
				if !strings.Contains(r.Stderr, w) {
					t.Fatalf("stderr does not name %q:\n%s", w, r.Stderr)
				}
			}
			if strings.Contains(r.Stderr, "hunter2") {
				t.Fatalf("password leaked to stderr: %s", r.Stderr)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("output directory exists after a failed run")
			}
		})
	}
}

func TestHelpShowsExitCodes(t *testing.T) {
	r := run(t, nil, "--help")
	if r.Code != 0 || !strings.Contains(r.Stdout, "75") || !strings.Contains(r.Stdout, "--file_extension") {
		t.Fatalf("help: exit %d\n%s", r.Code, r.Stdout)
	}
}
