package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/cmdline/wrappercmd"
	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/devstacktest"
	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/upstreamtest"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/foraging"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/wrapper"
)

func TestMain(m *testing.M) { os.Exit(devstacktest.Main(m)) }

// allowedExtraFields are the record fields beyond aind-data-schema's Metadata model, each
// justified in docs/UPSTREAM.md ("Fields beyond the model"). Another extra field fails.
var allowedExtraFields = map[string]string{
	"_id":     "DocDB's key: the hash, as upstream's write_to_docdb sets it",
	"created": "when the record was made: aind-results sorts and --latest picks by it",
}

// validation is one line of testdata/upstream/validate_records.py.
type validation struct {
	File     string   `json:"file"`
	Valid    bool     `json:"valid"`
	Errors   []any    `json:"errors"`
	Extra    []string `json:"extra_fields"`
	Warnings []string `json:"warnings"`
}

// recordCase runs the wrapper one way and returns the exit code it must have.
type recordCase struct {
	name     string
	wantCode int
	// run runs the wrapper with the common flags (input, output, DocDB, bucket, code) and
	// returns its exit code.
	run func(t *testing.T, in string, flags []string) int
}

// TestRecordsValidateWithUpstreamMetadata runs aind-wrapper in command mode, in Go mode, on
// a failing analysis and as the grouped foraging analysis, with DocDB reached through the
// Mongo driver and through the HTTP gateway, and validates every metadata.nd.json and every
// DocDB record it wrote with aind-data-schema's own Metadata model (Python, the pinned
// upstream): each must be valid, with no field beyond the model except allowedExtraFields.
func TestRecordsValidateWithUpstreamMetadata(t *testing.T) {
	upstreamtest.Venv(t) // fail first, naming the install command, if the oracle is missing
	env := devstacktest.Get(t)
	root := devstacktest.RepoRoot(t)
	cases := []recordCase{
		{name: "command", run: func(t *testing.T, in string, flags []string) int {
			writeJob(t, in, job.Job{S3Location: []string{"s3://aind-open-data-devstack/behavior_790001_2025-05-22_15-45-10"},
				AssetName: []string{"behavior_790001_2025-05-22_15-45-10"}, DocDBRecordID: []string{"rec-1"},
				FileLocation: []string{"s3://aind-open-data-devstack/behavior_790001_2025-05-22_15-45-10/nwb/a.nwb"}})
			return wrappercmd.Main(append([]string{"run"}, append(flags, "--pipeline_name=demo pipeline",
				"--pipeline_url=https://example.org/pipeline", "--pipeline_version=2.0.0", "--",
				"sh", "-c", `echo '{"n_files": 3, "label": "x"}' > "$AIND_OUTPUT_DIR/outputs.json"`)...))
		}},
		{name: "go", run: func(t *testing.T, in string, flags []string) int {
			writeJob(t, in, job.Job{S3Location: []string{"s3://aind-open-data-devstack/behavior_790001_2025-05-22_15-45-10"},
				AssetName: []string{"behavior_790001_2025-05-22_15-45-10"}, DocDBRecordID: []string{"rec-1"},
				DistributedParameters: map[string]any{"alpha": 0.5}})
			return wrapper.MainArgs(wrapper.GoAnalysis{Name: "go-analysis", Run: func(ctx context.Context, in wrapper.Input) (map[string]any, error) {
				return map[string]any{"mean": 1.5, "counts": []any{1, 2}, "nested": map[string]any{"ok": true}}, os.WriteFile(filepath.Join(in.OutputDir, "r.txt"), []byte("r"), 0o644)
			}}, flags)
		}},
		{name: "failed", wantCode: 1, run: func(t *testing.T, in string, flags []string) int {
			writeJob(t, in, job.Job{S3Location: []string{"s3://aind-open-data-devstack/behavior_790001_2025-05-22_15-45-10"},
				AssetName: []string{"behavior_790001_2025-05-22_15-45-10"}, DocDBRecordID: []string{"rec-1"}})
			return wrappercmd.Main(append([]string{"run"}, append(flags, "--", "sh", "-c", "echo broken >&2; exit 3")...))
		}},
		{name: "foraging-grouped", run: func(t *testing.T, in string, flags []string) int {
			writeJob(t, in, foragingJob(t, root, "900001"))
			return wrapper.MainArgs(foraging.Analysis(), append(flags,
				"--analysis_parameters="+filepath.Join(root, "testdata", "foraging", "demo", "input", "analysis_parameters.json")))
		}},
	}
	for _, backend := range []string{devstacktest.BackendMongo, devstacktest.BackendGateway} {
		for _, c := range cases {
			t.Run(backend+"/"+c.name, func(t *testing.T) {
				for k, v := range env.Vars {
					t.Setenv(k, v)
				}
				dbVars := map[string]string{"DOCDB_URI": env.DocDBURI, "DOCDB_HOST": "", "DOCDB_VERSION": ""}
				if backend == devstacktest.BackendGateway {
					dbVars = map[string]string{"DOCDB_URI": "", "DOCDB_HOST": env.DocDBHost, "DOCDB_VERSION": env.DocDBVersion}
				}
				for k, v := range dbVars {
					t.Setenv(k, v)
				}
				db, bucket, in, out := env.NewDatabase(t), env.NewBucket(t), t.TempDir(), t.TempDir()
				flags := []string{"--input_directory=" + in, "--output_directory=" + out, "--scratch_directory=" + t.TempDir(),
					"--dry_run=0", "--results_database=" + db, "--results_collection=results",
					"--analysis_bucket=s3://" + bucket + "/results", "--code_url=https://github.com/AllenNeuralDynamics/example-analysis",
					"--code_version=1.2.0", "--experimenter=someone@example.org", "--log-level=warn"}
				if code := c.run(t, in, flags); code != c.wantCode {
					t.Fatalf("wrapper exit code %d, want %d", code, c.wantCode)
				}
				files, _ := filepath.Glob(filepath.Join(out, "*", "metadata.nd.json"))
				if len(files) != 1 {
					t.Fatalf("metadata.nd.json files %v, want one", files)
				}
				records := dumpRecords(t, env, db, "results", t.TempDir())
				wantRecords := 1
				if c.wantCode != 0 {
					wantRecords = 0 // a failed attempt is never recorded
				}
				if len(records) != wantRecords {
					t.Fatalf("%d DocDB records, want %d", len(records), wantRecords)
				}
				checkValid(t, append(files, records...))
			})
		}
	}
}

// checkValid validates files with the upstream Metadata model and fails t for an invalid
// record or an unlisted extra field.
func checkValid(t *testing.T, files []string) {
	t.Helper()
	res := upstreamtest.Run(t, "", nil, "validate_records.py", files...)
	lines := strings.Split(strings.TrimSpace(string(res.Stdout)), "\n")
	if len(lines) != len(files) {
		t.Fatalf("validator printed %d lines for %d files (exit %d):\n%s\n%s", len(lines), len(files), res.Code, res.Stdout, res.Stderr)
	}
	for _, line := range lines {
		var v validation
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("validator line %q: %v", line, err)
		}
		if !v.Valid {
			b, _ := os.ReadFile(v.File)
			t.Errorf("%s is not a valid aind-data-schema Metadata: %v\n%s", filepath.Base(v.File), v.Errors, b)
		}
		for _, f := range v.Extra {
			if _, ok := allowedExtraFields[f]; !ok {
				t.Errorf("%s has %q, a field beyond the Metadata model not listed in docs/UPSTREAM.md", filepath.Base(v.File), f)
			}
		}
		t.Logf("%s: valid=%v extra=%v warnings=%v", filepath.Base(v.File), v.Valid, v.Extra, v.Warnings)
	}
}

// dumpRecords writes every record of db.coll as relaxed Extended JSON (what the gateway
// serves and MetadataDbClient reads) into dir and returns the files.
func dumpRecords(t *testing.T, env *devstacktest.Env, db, coll, dir string) []string {
	t.Helper()
	cur, err := env.Mongo(t).Database(db).Collection(coll).Find(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for i := 0; cur.Next(context.Background()); i++ {
		b, err := bson.MarshalExtJSON(cur.Current, false, false)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, fmt.Sprintf("record_%d.json", i))
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if err := cur.Err(); err != nil {
		t.Fatal(err)
	}
	return files
}

// writeJob writes j as the only job file of in/job_dict.
func writeJob(t *testing.T, in string, j job.Job) {
	t.Helper()
	name, err := j.FileName()
	if err != nil {
		t.Fatal(err)
	}
	b, err := j.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(in, "job_dict"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "job_dict", name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// foragingJob is the grouped job of one mouse of the seeded foraging assets.
func foragingJob(t *testing.T, root, subject string) job.Job {
	t.Helper()
	var recs []struct {
		ID       string `json:"_id"`
		Name     string `json:"name"`
		Location string `json:"location"`
		Subject  struct {
			ID string `json:"subject_id"`
		} `json:"subject"`
	}
	b, err := os.ReadFile(filepath.Join(root, "testdata", "devstack", "docdb", "metadata_index", "foraging_assets.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	j := job.Job{GroupMetadata: map[string]any{"subject__subject_id": subject}}
	for _, r := range recs {
		if r.Subject.ID == subject {
			j.S3Location = append(j.S3Location, r.Location)
			j.AssetName = append(j.AssetName, r.Name)
			j.DocDBRecordID = append(j.DocDBRecordID, r.ID)
		}
	}
	if len(j.S3Location) < 2 || slices.Contains(j.S3Location, "") {
		t.Fatalf("foraging job of %s: %+v", subject, j)
	}
	return j
}

// TestValidatorRejects shows the oracle can fail: records the upstream model refuses, and an
// unknown top-level field (which Metadata ignores) that the validator still lists.
func TestValidatorRejects(t *testing.T) {
	const dp = `{"object_type":"Data process","process_type":"Analysis",%s"stage":"Analysis","code":{"url":"https://x/y","version":"1"},"experimenters":[],"start_date_time":"2026-01-01T00:00:00Z"}`
	named := fmt.Sprintf(dp, `"name":"y",`)
	tests := []struct {
		name      string
		record    string
		wantValid bool
		wantExtra []string
	}{
		{"valid", `{"name":"h","location":"s3://b/h","processing":{"data_processes":[` + named + `]}}`, true, nil},
		{"analysis process without name or notes", `{"name":"h","location":"s3://b/h","processing":{"data_processes":[` + fmt.Sprintf(dp, "") + `]}}`, false, nil},
		{"unknown field in a data process", `{"name":"h","location":"s3://b/h","processing":{"data_processes":[` + strings.Replace(named, `"name":"y",`, `"name":"y","outputs":{},`, 1) + `]}}`, false, nil},
		{"no processing, subject or model", `{"name":"h","location":"s3://b/h"}`, false, nil},
		{"unknown top-level field is listed", `{"name":"h","location":"s3://b/h","extra_top":1,"processing":{"data_processes":[` + named + `]}}`, true, []string{"extra_top"}},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(dir, fmt.Sprintf("r%d.json", i))
			if err := os.WriteFile(f, []byte(tt.record), 0o644); err != nil {
				t.Fatal(err)
			}
			res := upstreamtest.Run(t, "", nil, "validate_records.py", f)
			var v validation
			if err := json.Unmarshal(res.Stdout, &v); err != nil {
				t.Fatalf("validator output %q: %v\n%s", res.Stdout, err, res.Stderr)
			}
			if v.Valid != tt.wantValid || (res.Code == 0) != tt.wantValid || !slices.Equal(v.Extra, tt.wantExtra) {
				t.Errorf("valid=%v exit=%d extra=%v errors=%v; want valid=%v extra=%v", v.Valid, res.Code, v.Extra, v.Errors, tt.wantValid, tt.wantExtra)
			}
		})
	}
}
