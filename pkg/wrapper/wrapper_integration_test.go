package wrapper_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/devstacktest"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/docdb"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/params"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/result"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/wrapper"
)

func TestMain(m *testing.M) { os.Exit(devstacktest.Main(m)) }

const paramSchema = `{
  "type": "object",
  "properties": {
    "analysis_name": {"type": "string"},
    "cutoff": {"type": "number", "minimum": 0, "maximum": 1},
    "window": {"type": "integer", "default": 10}
  },
  "required": ["analysis_name", "cutoff"]
}`

const outputSchema = `{
  "type": "object",
  "properties": {"n_bytes": {"type": "integer"}},
  "required": ["n_bytes"]
}`

type fixture struct {
	env     *devstacktest.Env
	db      string
	bucket  string
	records docdb.Store
	claims  docdb.Store
	store   *storage.Router
	in      string
	asset   string // s3:// location of the seeded input asset
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := devstacktest.Get(t)
	env.Setenv(t)
	f := &fixture{env: env, db: env.NewDatabase(t), bucket: env.NewBucket(t), in: t.TempDir()}
	f.asset = "s3://" + f.bucket + "/inputs/asset1"
	env.PutObjects(t, f.bucket, map[string]string{"inputs/asset1/data.nwb": "0123456789"})
	c := env.OpenDocDB(t) // AIND_TEST_DOCDB=mongo|gateway
	var err error
	f.records, f.claims = c.Collection(f.db, "results"), c.Collection(f.db, "results_claims")
	if f.store, err = storage.New(context.Background(), storage.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(f.in, "job_dict"), 0o755); err != nil {
		t.Fatal(err)
	}
	return f
}

// addJob writes a job file for the seeded asset with the given sweep slice.
func (f *fixture) addJob(t *testing.T, distributed map[string]any) string {
	t.Helper()
	j := job.Job{S3Location: []string{f.asset}, AssetName: []string{"asset1"}, DocDBRecordID: []string{"rec1"},
		FileLocation: []string{f.asset + "/data.nwb"}, DistributedParameters: distributed}
	name, _ := j.FileName()
	b, _ := j.Marshal()
	if err := os.WriteFile(filepath.Join(f.in, "job_dict", name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(name, ".json")
}

func (f *fixture) config(t *testing.T) wrapper.Config {
	t.Helper()
	ps, err := params.CompileSchema("params.json", []byte(paramSchema))
	if err != nil {
		t.Fatal(err)
	}
	os, err := params.CompileSchema("outputs.json", []byte(outputSchema))
	if err != nil {
		t.Fatal(err)
	}
	return wrapper.Config{
		JobDir: filepath.Join(f.in, "job_dict"), OutputDir: t.TempDir(), ScratchDir: t.TempDir(),
		Parameters:      params.File{Fixed: map[string]any{"analysis_name": "test", "cutoff": 0.5}},
		ParameterSchema: ps, OutputSchema: os,
		Code:   identity.CodeInfo{URL: "https://example.org/analysis", Name: "analysis", Version: "1.0.0", RunScript: "code/run"},
		Bucket: storage.MustParse("s3://" + f.bucket + "/results"), Experimenters: []string{"someone@example.org"},
		Lease: 30 * time.Second, UploadConcurrency: 4,
	}
}

func (f *fixture) deps(log io.Writer) wrapper.Deps {
	if log == nil {
		log = io.Discard
	}
	return wrapper.Deps{Records: f.records, Claims: f.claims, Store: f.store, Log: zerolog.New(log), LogOutput: log}
}

// countingAnalysis reads the job's file, writes a result and returns its size.
func countingAnalysis(runs *atomic.Int64) wrapper.AnalysisFunc {
	return func(ctx context.Context, in wrapper.Input) (map[string]any, error) {
		runs.Add(1)
		r, err := in.Store.Open(ctx, storage.MustParse(in.Job.FileLocation[0]))
		if err != nil {
			return nil, err
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		in.Log.Info().Int("bytes", len(b)).Msg("read input")
		p, _ := json.Marshal(in.Parameters)
		if err := os.WriteFile(filepath.Join(in.OutputDir, "result.txt"), p, 0o644); err != nil {
			return nil, err
		}
		return map[string]any{"n_bytes": len(b)}, nil
	}
}

// record reads the record with _id = hash as plain JSON values (nil when absent).
func (f *fixture) record(t *testing.T, hash string) map[string]any {
	t.Helper()
	var got map[string]any
	err := f.records.Find(context.Background(), bson.D{{Key: "_id", Value: hash}}, docdb.FindOptions{}, func(doc bson.Raw) error {
		b, err := bson.MarshalExtJSON(doc, false, false)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &got)
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func (f *fixture) objects(t *testing.T, prefix string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := f.store.List(context.Background(), storage.MustParse(prefix), func(o storage.Object) error {
		out[o.Rel] = o.Size
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGoAnalysisPublishesResultThenRecord(t *testing.T) {
	f := newFixture(t)
	f.addJob(t, map[string]any{"cutoff": 0.25})
	cfg := f.config(t)
	var runs atomic.Int64
	sum, err := wrapper.Run(context.Background(), cfg, f.deps(nil), countingAnalysis(&runs))
	if err != nil || sum.Err() != nil {
		t.Fatalf("run: %v / %v (%+v)", err, sum.Err(), sum.Results)
	}
	res := sum.Results[0]
	if res.Status != wrapper.StatusDone || runs.Load() != 1 {
		t.Fatalf("result %+v, runs %d", res, runs.Load())
	}
	// The hash is the identity of the Code block of the merged, defaulted parameters.
	j, _ := job.ReadDir(cfg.JobDir)
	want, _ := j[0].Job.Code(cfg.Code, map[string]any{"analysis_name": "test", "cutoff": 0.25, "window": 10}).Hash()
	if res.Hash != want {
		t.Fatalf("hash %s, want identity %s", res.Hash, want)
	}
	prefix := "s3://" + f.bucket + "/results/" + res.Hash
	objs := f.objects(t, prefix)
	for _, name := range []string{"result.txt", "outputs.json", "analysis.log", "metadata.nd.json", "manifest.json"} {
		if _, ok := objs[name]; !ok {
			t.Fatalf("%s not uploaded; have %v", name, objs)
		}
	}
	var m result.Manifest
	b, _ := os.ReadFile(filepath.Join(cfg.OutputDir, res.Hash, "manifest.json"))
	if err := json.Unmarshal(b, &m); err != nil || len(m.Files) != 4 {
		t.Fatalf("manifest %s: %v", b, err)
	}
	for _, e := range m.Files {
		if objs[e.Path] != e.Size || len(e.SHA256) != 64 {
			t.Fatalf("manifest entry %+v, uploaded size %d", e, objs[e.Path])
		}
	}
	rec := f.record(t, res.Hash)
	if rec["name"] != res.Hash || rec["location"] != prefix || rec["object_type"] != "Metadata" {
		t.Fatalf("record %v", rec)
	}
	dp := rec["processing"].(map[string]any)["data_processes"].([]any)[0].(map[string]any)
	code := dp["code"].(map[string]any)
	if dp["output_parameters"].(map[string]any)["n_bytes"] != float64(10) || code["parameters"].(map[string]any)["window"] != float64(10) ||
		code["version"] != "1.0.0" || dp["experimenters"].([]any)[0] != "someone@example.org" {
		t.Fatalf("data process %v", dp)
	}
	if !strings.HasSuffix(dp["start_date_time"].(string), "Z") && !strings.Contains(dp["start_date_time"].(string), "+") && !strings.Contains(dp["start_date_time"].(string)[10:], "-") {
		t.Fatalf("timestamp without zone: %v", dp["start_date_time"])
	}
	logText, _ := os.ReadFile(filepath.Join(cfg.OutputDir, res.Hash, "analysis.log"))
	if !strings.Contains(string(logText), "read input") {
		t.Fatalf("analysis log does not hold the analysis' lines: %s", logText)
	}
}

func TestMergeOrderAndOverrideLog(t *testing.T) {
	f := newFixture(t)
	f.addJob(t, map[string]any{"cutoff": 0.75})
	cfg := f.config(t)
	cfg.DryRun = true
	cfg.Parameters.Fixed = map[string]any{"analysis_name": "fixed", "cutoff": 0.1, "window": 1}
	cfg.Overrides = map[string]any{"cutoff": 0.2, "window": 2}
	var seen map[string]any
	var logBuf bytes.Buffer
	_, err := wrapper.Run(context.Background(), cfg, f.deps(&logBuf), wrapper.AnalysisFunc(func(_ context.Context, in wrapper.Input) (map[string]any, error) {
		seen = in.Parameters
		return map[string]any{"n_bytes": 0}, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%v %v %v", seen["analysis_name"], seen["window"], seen["cutoff"]) != "fixed 2 0.75" {
		t.Fatalf("parameters %v: want fixed < command line < job", seen)
	}
	logs := logBuf.String()
	for _, want := range []string{`"parameter":"cutoff","old":0.1,"old_source":"fixed_parameters","new":0.2,"source":"command line"`,
		`"parameter":"cutoff","old":0.2,"old_source":"command line","new":0.75,"source":"job distributed_parameters"`,
		`"parameter":"window","old":1,"old_source":"fixed_parameters","new":2,"source":"command line"`} {
		if !strings.Contains(logs, want) {
			t.Fatalf("override not logged: %s\nlogs:\n%s", want, logs)
		}
	}
}

func TestSchemaErrorStopsJobBeforeItRuns(t *testing.T) {
	f := newFixture(t)
	bad := f.addJob(t, map[string]any{"cutoff": 7})
	f.addJob(t, map[string]any{"cutoff": 0.3})
	cfg := f.config(t)
	var runs atomic.Int64
	sum, err := wrapper.Run(context.Background(), cfg, f.deps(nil), countingAnalysis(&runs))
	if err != nil {
		t.Fatal(err)
	}
	if runs.Load() != 1 || sum.Count(wrapper.StatusFailed) != 1 || sum.Count(wrapper.StatusDone) != 1 {
		t.Fatalf("runs %d, results %+v: the invalid job must fail before running, the other must run", runs.Load(), sum.Results)
	}
	b, err := os.ReadFile(filepath.Join(cfg.OutputDir, "failed_"+bad))
	if err != nil || !strings.Contains(string(b), "cutoff") || !strings.Contains(string(b), "maximum") {
		t.Fatalf("failed marker %s (%v) does not name the field and the rule", b, err)
	}
	if err := sum.Err(); fault.ExitCode(err) != fault.ExitFailed {
		t.Fatalf("exit code %d for a permanent failure", fault.ExitCode(err))
	}
}

func TestSkipWhenRecordExists(t *testing.T) {
	f := newFixture(t)
	stem := f.addJob(t, nil)
	var runs atomic.Int64
	if sum, _ := wrapper.Run(context.Background(), f.config(t), f.deps(nil), countingAnalysis(&runs)); sum.Count(wrapper.StatusDone) != 1 {
		t.Fatalf("first run %+v", sum.Results)
	}
	cfg := f.config(t)
	sum, err := wrapper.Run(context.Background(), cfg, f.deps(nil), countingAnalysis(&runs))
	if err != nil || sum.Count(wrapper.StatusSkipped) != 1 || runs.Load() != 1 {
		t.Fatalf("second run %+v, runs %d", sum.Results, runs.Load())
	}
	if _, err := os.Stat(filepath.Join(cfg.OutputDir, "skip_"+stem)); err != nil {
		t.Fatalf("no skip marker: %v", err)
	}
}

func TestDryRunPublishesNothing(t *testing.T) {
	f := newFixture(t)
	f.addJob(t, nil)
	cfg := f.config(t)
	cfg.DryRun = true
	var runs atomic.Int64
	deps := f.deps(nil)
	deps.Claims = nil
	sum, err := wrapper.Run(context.Background(), cfg, deps, countingAnalysis(&runs))
	if err != nil || sum.Count(wrapper.StatusDryRun) != 1 {
		t.Fatalf("%v %+v", err, sum.Results)
	}
	hash := sum.Results[0].Hash
	var meta identity.Metadata
	b, err := os.ReadFile(filepath.Join(cfg.OutputDir, hash, "metadata.nd.json"))
	if err != nil || json.Unmarshal(b, &meta) != nil || meta.Name != hash {
		t.Fatalf("metadata.nd.json: %v %s", err, b)
	}
	if objs := f.objects(t, "s3://"+f.bucket+"/results"); len(objs) != 0 {
		t.Fatalf("dry run uploaded %v", objs)
	}
	if rec := f.record(t, hash); rec != nil {
		t.Fatalf("dry run wrote a record")
	}
}

func TestLegacyJobShape(t *testing.T) {
	f := newFixture(t)
	legacy := `{"s3_location": ["` + f.asset + `"], "asset_id": ["legacy-id"], "asset_name": ["asset1"], "file_location": ["` + f.asset + `/data.nwb"], "distributed_parameters": {"cutoff": 0.05}}`
	if err := os.WriteFile(filepath.Join(f.in, "job_dict", "legacy.json"), []byte(legacy), 0o644); err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int64
	var ids []string
	analysis := wrapper.AnalysisFunc(func(ctx context.Context, in wrapper.Input) (map[string]any, error) {
		ids = in.Job.DocDBRecordID
		return countingAnalysis(&runs)(ctx, in)
	})
	sum, err := wrapper.Run(context.Background(), f.config(t), f.deps(nil), analysis)
	if err != nil || sum.Count(wrapper.StatusDone) != 1 || len(ids) != 1 || ids[0] != "legacy-id" {
		t.Fatalf("%v %+v ids %v", err, sum.Results, ids)
	}
}

func TestFailingCommandKeepsLogAndOthersRun(t *testing.T) {
	f := newFixture(t)
	bad := f.addJob(t, map[string]any{"cutoff": 0.9})
	f.addJob(t, map[string]any{"cutoff": 0.1})
	cfg := f.config(t)
	script := `if grep -q '"cutoff": 0.9' "$AIND_PARAMETERS_FILE"; then echo "oops, cannot analyse"; exit 3; fi; echo '{"n_bytes": 1}' > "$AIND_OUTPUTS_FILE"`
	sum, err := wrapper.Run(context.Background(), cfg, f.deps(nil), wrapper.Command{Argv: []string{"sh", "-c", script}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Count(wrapper.StatusFailed) != 1 || sum.Count(wrapper.StatusDone) != 1 {
		t.Fatalf("results %+v", sum.Results)
	}
	var failed wrapper.Result
	for _, r := range sum.Results {
		if r.Status == wrapper.StatusFailed {
			failed = r
		}
	}
	dir := filepath.Join(cfg.OutputDir, failed.Hash)
	logText, _ := os.ReadFile(filepath.Join(dir, "analysis.log"))
	errText, _ := os.ReadFile(filepath.Join(dir, "error.txt"))
	if !strings.Contains(string(logText), "oops") || !strings.Contains(string(errText), "status 3") || !strings.Contains(string(errText), "oops") {
		t.Fatalf("log %q, error file %q", logText, errText)
	}
	if _, err := os.Stat(filepath.Join(cfg.OutputDir, "failed_"+bad)); err != nil {
		t.Fatal("no failed marker")
	}
	var attempt identity.Metadata
	b, err := os.ReadFile(filepath.Join(dir, "metadata.nd.json"))
	if err != nil || json.Unmarshal(b, &attempt) != nil {
		t.Fatalf("failed job has no readable metadata.nd.json: %v", err)
	}
	dp := attempt.Processing.DataProcesses[0]
	if fmt.Sprint(dp.Code.Parameters["cutoff"]) != "0.9" || !strings.Contains(dp.Notes, "Failed: ") || len(dp.Code.InputData) != 1 {
		t.Fatalf("failed attempt's metadata does not say what ran and why it failed: %s", b)
	}
	if rec := f.record(t, failed.Hash); rec != nil {
		t.Fatal("a failed job was recorded")
	}
	if code := fault.ExitCode(sum.Err()); code != fault.ExitFailed {
		t.Fatalf("exit code %d, want %d", code, fault.ExitFailed)
	}
}

func TestServerStoppedMidRunIsTransientAndLeavesNoRecord(t *testing.T) {
	for _, which := range []string{"s3", "docdb"} {
		t.Run(which, func(t *testing.T) {
			f := newFixture(t)
			f.addJob(t, nil)
			cfg := f.config(t)
			deps := f.deps(nil)
			var proxy *devstacktest.Proxy
			switch which {
			case "s3":
				proxy = devstacktest.NewProxy(t, strings.TrimPrefix(f.env.S3Endpoint, "http://"))
				s, err := storage.New(context.Background(), storage.Options{S3: storage.S3Options{Endpoint: "http://" + proxy.Addr(), MaxAttempts: 2}})
				if err != nil {
					t.Fatal(err)
				}
				deps.Store = s
			case "docdb":
				cfg := docdb.Config{Timeout: 300 * time.Millisecond, Backoff: 10 * time.Millisecond}
				if devstacktest.DocDBBackend() == devstacktest.BackendGateway {
					proxy = devstacktest.NewProxy(t, strings.TrimPrefix(f.env.DocDBHost, "http://"))
					gw := f.env.DocDBConfig(devstacktest.BackendGateway)
					cfg.Host, cfg.Version, cfg.Credentials, cfg.Region, cfg.Attempts = "http://"+proxy.Addr(), gw.Version, gw.Credentials, gw.Region, 2
				} else {
					host := strings.TrimSuffix(strings.TrimPrefix(f.env.DocDBURI, "mongodb://"), "/")
					proxy = devstacktest.NewProxy(t, host)
					cfg.URI = "mongodb://" + proxy.Addr() + "/?directConnection=true"
				}
				c, err := docdb.Open(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close(context.Background())
				deps.Records, deps.Claims = c.Collection(f.db, "results"), c.Collection(f.db, "results_claims")
			}
			var runs atomic.Int64
			analysis := wrapper.AnalysisFunc(func(ctx context.Context, in wrapper.Input) (map[string]any, error) {
				out, err := countingAnalysis(&runs)(ctx, in)
				proxy.Stop() // the server goes away while the job runs
				return out, err
			})
			sum, err := wrapper.Run(context.Background(), cfg, deps, analysis)
			if err != nil {
				t.Fatal(err)
			}
			if runs.Load() != 1 || sum.Count(wrapper.StatusFailed) != 1 {
				t.Fatalf("results %+v", sum.Results)
			}
			if code := fault.ExitCode(sum.Err()); code != fault.ExitTransient {
				t.Fatalf("exit code %d (%v), want transient %d", code, sum.Err(), fault.ExitTransient)
			}
			if rec := f.record(t, sum.Results[0].Hash); rec != nil {
				t.Fatal("record written although publishing failed")
			}
			if errors.Is(sum.Err(), context.Canceled) {
				t.Fatal("classified as cancelled")
			}
		})
	}
}

func TestMainArgsRunsAGoAnalysis(t *testing.T) {
	f := newFixture(t)
	f.addJob(t, map[string]any{"cutoff": 0.4})
	params := `{"fixed_parameters": {"analysis_name": "go-main"}}`
	if err := os.WriteFile(filepath.Join(f.in, "analysis_parameters.json"), []byte(params), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var runs atomic.Int64
	code := wrapper.MainArgs(wrapper.GoAnalysis{
		Name: "go-analysis", ParameterSchema: []byte(paramSchema), OutputSchema: []byte(outputSchema), Run: countingAnalysis(&runs),
	}, append([]string{
		"--input_directory=" + f.in, "--output_directory=" + out, "--scratch_directory=" + t.TempDir(),
		"--dry_run=0", "--results_database=" + f.db, "--results_collection=results",
		"--analysis_bucket=s3://" + f.bucket + "/results", "--code_url=https://example.org/go", "--code_version=0.1.0", "--log-level=warn",
	}, f.env.DocDBFlags()...))
	if code != 0 || runs.Load() != 1 {
		t.Fatalf("exit %d, runs %d", code, runs.Load())
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 1 {
		t.Fatalf("output %v", entries)
	}
	rec := f.record(t, entries[0].Name())
	if rec == nil {
		t.Fatal("no record")
	}
	code2 := rec["processing"].(map[string]any)["data_processes"].([]any)[0].(map[string]any)["code"].(map[string]any)
	if code2["name"] != "go" || code2["parameters"].(map[string]any)["window"] != float64(10) {
		t.Fatalf("code block %v: want the name derived from --code_url (as the dispatcher derives it) and the embedded schema's defaults", code2)
	}
}

func TestTimeoutStopsTheCommandAndFailsTheJob(t *testing.T) {
	f := newFixture(t)
	f.addJob(t, nil)
	cfg := f.config(t)
	cfg.DryRun = true
	cfg.Timeout = 300 * time.Millisecond
	marker := filepath.Join(t.TempDir(), "still-running")
	deps := f.deps(nil)
	deps.Records, deps.Claims = nil, nil
	start := time.Now()
	// The child keeps running in the background unless the wrapper kills the process group.
	script := `(sleep 3; touch ` + marker + `) & sleep 30`
	sum, err := wrapper.Run(context.Background(), cfg, deps, wrapper.Command{Argv: []string{"sh", "-c", script}, KillDelay: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("the timed-out analysis held the wrapper for %s", elapsed)
	}
	if sum.Count(wrapper.StatusFailed) != 1 || !strings.Contains(sum.Results[0].Error, "timed out after 300ms") {
		t.Fatalf("results %+v: want one failure that says it timed out", sum.Results)
	}
	time.Sleep(3500 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the analysis' child process outlived the timeout")
	}
}
