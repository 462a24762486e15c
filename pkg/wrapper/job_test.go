package wrapper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/params"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/result"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// The steps of a job's life (runJob), one at a time, against in-memory records and claims.
// The integration tests run the whole life against the devstack.

// fakeRecords holds records by id; err fails every call.
type fakeRecords struct {
	mu      sync.Mutex
	docs    map[string]any
	inserts int
	asked   int // ids looked up by Existing
	err     error
}

func (f *fakeRecords) Existing(_ context.Context, ids []string) (map[string]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked += len(ids)
	if f.err != nil {
		return nil, f.err
	}
	out := map[string]bool{}
	for _, id := range ids {
		_, out[id] = f.docs[id]
	}
	return out, nil
}

func (f *fakeRecords) InsertIfAbsent(_ context.Context, id string, doc any) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inserts++
	if _, ok := f.docs[id]; ok {
		return false, nil
	}
	f.docs[id] = doc
	return true, nil
}

// fakeClaims grants a claim unless held says another holder has it.
type fakeClaims struct {
	held     bool
	err      error
	released int
}

func (f *fakeClaims) Claim(context.Context, string, string, time.Duration) (bool, error) {
	return !f.held && f.err == nil, f.err
}
func (f *fakeClaims) Renew(context.Context, string, string, time.Duration) error { return nil }
func (f *fakeClaims) Release(_ context.Context, _ string, ids []string) error {
	f.released += len(ids)
	return nil
}

func testRunner(t *testing.T, records *fakeRecords, claims *fakeClaims, a AnalysisFunc) *runner {
	t.Helper()
	dir := t.TempDir()
	bucket, err := storage.Parse(filepath.Join(dir, "bucket"))
	if err != nil {
		t.Fatal(err)
	}
	if records == nil {
		records = &fakeRecords{docs: map[string]any{}}
	}
	if claims == nil {
		claims = &fakeClaims{}
	}
	return &runner{
		cfg: Config{OutputDir: filepath.Join(dir, "out"), ScratchDir: filepath.Join(dir, "scratch"), Bucket: bucket,
			Lease: time.Minute, Holder: "me", Code: identity.CodeInfo{URL: "u", Name: "n", Version: "1", RunScript: "code/run"}},
		deps:     Deps{Records: records, Claims: claims, Log: zerolog.Nop(), LogOutput: io.Discard, Now: time.Now},
		analysis: a,
	}
}

func testJob(t *testing.T) job.File {
	t.Helper()
	j, err := job.Parse([]byte(`{"s3_location": ["s3://b/a"], "asset_name": ["a"], "docdb_record_id": ["id"]}`), "job_1.json")
	if err != nil {
		t.Fatal(err)
	}
	return job.File{Path: "job_1.json", Job: j}
}

func TestResolve(t *testing.T) {
	schema, err := params.CompileSchema("s", []byte(`{"type": "object", "properties": {"n": {"type": "integer", "default": 3}}}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		overrides map[string]any
		wantN     string
		wantErr   string
	}{
		{"the schema's default", nil, "3", ""},
		{"an override", map[string]any{"n": 5}, "5", ""},
		{"a value the schema refuses", map[string]any{"n": "five"}, "", "parameters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRunner(t, nil, nil, nil)
			r.cfg.ParameterSchema, r.cfg.Overrides = schema, tt.overrides
			id, err := r.resolve(testJob(t).Job)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("resolve: %v, want an error about %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || id.Hash == "" || fmt.Sprint(id.Parameters["n"]) != tt.wantN {
				t.Fatalf("resolve: n = %v (%T), hash %q, %v; want n = %v", id.Parameters["n"], id.Parameters["n"], id.Hash, err, tt.wantN)
			}
		})
	}
}

func TestIsDone(t *testing.T) {
	tests := []struct {
		name    string
		records Records
		want    bool
		wantErr bool
	}{
		{"no records (a dry run without DocDB)", nil, false, false},
		{"not recorded", &fakeRecords{docs: map[string]any{}}, false, false},
		{"recorded", &fakeRecords{docs: map[string]any{"h": 1}}, true, false},
		{"DocDB fails", &fakeRecords{err: errors.New("down")}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRunner(t, nil, nil, nil)
			r.deps.Records = tt.records
			done, err := r.isDone(context.Background(), "h")
			if done != tt.want || (err != nil) != tt.wantErr {
				t.Fatalf("isDone: %v, %v; want %v, error %v", done, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestTakeClaim(t *testing.T) {
	tests := []struct {
		name         string
		dryRun       bool
		claims       *fakeClaims
		wantStatus   Status
		wantHeld     bool
		wantErr      bool
		wantReleases int
	}{
		{"a dry run claims nothing", true, &fakeClaims{}, "", false, false, 0},
		{"claimed", false, &fakeClaims{}, "", true, false, 1},
		{"held by another wrapper", false, &fakeClaims{held: true}, StatusDeferred, false, false, 0},
		{"the claim fails", false, &fakeClaims{err: errors.New("down")}, "", false, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRunner(t, nil, tt.claims, nil)
			r.cfg.DryRun = tt.dryRun
			c, status, err := r.takeClaim(context.Background(), "h", zerolog.Nop())
			if status != tt.wantStatus || (c.held != nil) != tt.wantHeld || (err != nil) != tt.wantErr {
				t.Fatalf("takeClaim: held %v, status %q, %v; want held %v, status %q, error %v", c.held != nil, status, err, tt.wantHeld, tt.wantStatus, tt.wantErr)
			}
			if c.release != nil {
				if c.ctx == nil || c.ctx.Err() != nil {
					t.Fatal("the job's context is missing or already done")
				}
				c.release()
				if tt.wantHeld && c.ctx.Err() == nil {
					t.Error("release left the job's context running")
				}
			}
			if tt.claims.released != 0 {
				t.Errorf("%d claims released with the job, want none before the run ends", tt.claims.released)
			}
			r.releaseClaims(context.Background())
			if tt.claims.released != tt.wantReleases {
				t.Errorf("%d releases, want %d", tt.claims.released, tt.wantReleases)
			}
		})
	}
}

func TestRunStep(t *testing.T) {
	tests := []struct {
		name         string
		analysis     AnalysisFunc
		outputSchema string
		wantErr      string
		wantFiles    []string
	}{
		{"outputs and metadata", func(context.Context, Input) (map[string]any, error) {
			return map[string]any{"n": 1}, nil
		}, "", "", []string{result.OutputsFile, result.MetadataFile, result.LogFile}},
		{"a failed analysis keeps its error and metadata", func(context.Context, Input) (map[string]any, error) {
			return nil, errors.New("boom")
		}, "", "analysis: boom", []string{result.ErrorFile, result.MetadataFile, result.LogFile}},
		{"outputs the schema refuses", func(context.Context, Input) (map[string]any, error) {
			return map[string]any{"n": "one"}, nil
		}, `{"type": "object", "properties": {"n": {"type": "integer"}}}`, "outputs", []string{result.ErrorFile, result.MetadataFile}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRunner(t, nil, nil, tt.analysis)
			if tt.outputSchema != "" {
				s, err := params.CompileSchema("out", []byte(tt.outputSchema))
				if err != nil {
					t.Fatal(err)
				}
				r.cfg.OutputSchema = s
			}
			f := testJob(t)
			id, err := r.resolve(f.Job)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			outDir, meta, err := r.run(ctx, ctx, f, id, zerolog.Nop())
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("run: %v, want error %q", err, tt.wantErr)
			}
			if err == nil && meta.Location != r.cfg.Bucket.Join(id.Hash).String() {
				t.Errorf("metadata location %q", meta.Location)
			}
			for _, name := range tt.wantFiles {
				if _, err := os.Stat(filepath.Join(outDir, name)); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
			if _, err := os.Stat(filepath.Join(r.cfg.ScratchDir, id.Hash)); !os.IsNotExist(err) {
				t.Errorf("the scratch folder is left: %v", err)
			}
		})
	}
}

func TestRecordStep(t *testing.T) {
	tests := []struct {
		name        string
		existing    bool // a record exists before the fence
		wantErr     error
		wantInserts int
	}{
		{"ours", false, nil, 1},
		// The fence does not look for the record: the insert-if-absent finds it, and
		// writes nothing.
		{"recorded by another wrapper meanwhile", true, result.ErrRecordedElsewhere, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			records := &fakeRecords{docs: map[string]any{}}
			if tt.existing {
				records.docs["h"] = "theirs"
			}
			r := testRunner(t, records, nil, nil)
			held := newLease(r.deps.Claims, "h", "me", time.Minute, time.Now(), zerolog.Nop())
			meta := identity.NewMetadata(identity.Run{Hash: "h", Location: "s3://b/h", Start: time.Now(), End: time.Now()})
			err := r.publisher(zerolog.Nop()).Record(context.Background(), r.fence(held, "h"), result.Manifest{Hash: "h"}, meta)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("record: %v, want %v", err, tt.wantErr)
			}
			if records.inserts != tt.wantInserts {
				t.Errorf("%d inserts, want %d", records.inserts, tt.wantInserts)
			}
			if tt.existing && records.docs["h"] != "theirs" {
				t.Errorf("the other wrapper's record was replaced by %v", records.docs["h"])
			}
		})
	}
}

// A Go analysis' embedded output schema applies when --output_schema is not set; the flag,
// when set, wins.
func TestConfigTakesTheEmbeddedOutputSchemaUnlessTheFlagIsSet(t *testing.T) {
	f := &Flags{InputDirectory: t.TempDir(), embeddedOutputSchema: []byte(`{"type": "object", "required": ["score"]}`)}
	cfg, err := f.config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OutputSchema == nil || cfg.OutputSchema.Validate("outputs", map[string]any{}) == nil {
		t.Fatal("the embedded output schema is not applied: outputs without score pass")
	}
	f.OutputSchema = filepath.Join(t.TempDir(), "output_schema.json")
	if err := os.WriteFile(f.OutputSchema, []byte(`{"type": "object"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if cfg, err = f.config(); err != nil {
		t.Fatal(err)
	}
	if err := cfg.OutputSchema.Validate("outputs", map[string]any{}); err != nil {
		t.Fatalf("--output_schema does not win over the embedded schema: %v", err)
	}
}

// TestAfterTheClaim: what the one listing of a claimed job's prefix leads to, on a local
// bucket. A fresh job runs; a crashed attempt's leftovers are cleared and the job runs; a
// result recorded since the batched lookup is skipped; the same work complete in the bucket
// but recorded elsewhere (another collection's wrapper ran it) is adopted without running.
func TestAfterTheClaim(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(t *testing.T, r *runner, p pending)
		wantStatus Status
		wantRuns   int
		wantInsert int
	}{
		{"a fresh job", nil, StatusDone, 1, 1},
		{"a crashed attempt's leftovers", func(t *testing.T, r *runner, p pending) {
			write(t, r.cfg.Bucket.Join(p.id.Hash).Join("stale.txt").Path, "old")
		}, StatusDone, 1, 1},
		{"recorded since the batched lookup", func(t *testing.T, r *runner, p pending) {
			publishElsewhere(t, r, p)
			r.deps.Records.(*fakeRecords).docs[p.id.Hash] = "recorded meanwhile"
		}, StatusSkipped, 0, 0},
		{"complete in the bucket, recorded for another collection", func(t *testing.T, r *runner, p pending) {
			publishElsewhere(t, r, p)
		}, StatusSkipped, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs := 0
			records := &fakeRecords{docs: map[string]any{}}
			r := testRunner(t, records, nil, func(context.Context, Input) (map[string]any, error) {
				runs++
				return map[string]any{}, nil
			})
			r.deps.Store = storage.NewLocal()
			p := r.resolveAll([]job.File{testJob(t)})[0]
			if tt.setup != nil {
				tt.setup(t, r, p)
			}
			records.inserts = 0
			res := r.runJob(context.Background(), p, zerolog.Nop())
			if res.Status != tt.wantStatus || runs != tt.wantRuns || records.inserts != tt.wantInsert {
				t.Fatalf("%+v after %d runs and %d inserts; want %s, %d runs, %d inserts", res, runs, records.inserts, tt.wantStatus, tt.wantRuns, tt.wantInsert)
			}
			if _, err := os.Stat(r.cfg.Bucket.Join(p.id.Hash).Join("stale.txt").Path); !os.IsNotExist(err) {
				t.Errorf("the leftover is still there: %v", err)
			}
		})
	}
}

// publishElsewhere publishes p's result into r's bucket through another runner, as a
// wrapper of another results collection would.
func publishElsewhere(t *testing.T, r *runner, p pending) {
	t.Helper()
	other := testRunner(t, nil, nil, func(context.Context, Input) (map[string]any, error) { return map[string]any{}, nil })
	other.cfg.Bucket, other.deps.Store = r.cfg.Bucket, storage.NewLocal()
	if res := other.runJob(context.Background(), p, zerolog.Nop()); res.Status != StatusDone {
		t.Fatalf("publishing elsewhere: %+v", res)
	}
}

// write writes text to path, creating its folder.
func write(t *testing.T, path, text string) {
	t.Helper()
	err := os.MkdirAll(filepath.Dir(path), 0o755)
	if err == nil {
		err = os.WriteFile(path, []byte(text), 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestRecordedLooksUpMigratedRecordsOnlyForUnvouchedJobs: the task's one lookup asks the
// migrated-aware store (a pass over the Python wrapper's records) only for jobs whose file
// does not carry the identity the wrapper computed; a vouched job, looked up by the
// dispatcher when it wrote the file, is asked of the records by _id.
func TestRecordedLooksUpMigratedRecordsOnlyForUnvouchedJobs(t *testing.T) {
	tests := []struct {
		name                    string
		analysisCode            string // the job file's analysis_code: "ours", "other" or "" (null)
		wantOwnIDs, wantMigrIDs int
	}{
		{"written by a dispatcher that knew the code", "ours", 1, 0},
		{"written without the code identity", "", 0, 1},
		{"written for another identity (other parameters)", "other", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			own := &fakeRecords{docs: map[string]any{}}
			migrated := &fakeRecords{docs: map[string]any{}}
			r := testRunner(t, own, nil, nil)
			r.deps.Migrated = migrated
			f := testJob(t)
			id, err := r.resolve(f.Job)
			if err != nil {
				t.Fatal(err)
			}
			switch tt.analysisCode {
			case "ours":
				f.Job.AnalysisCode = &id.Code
			case "other":
				other := id.Code
				other.Parameters = map[string]any{"n": 1}
				f.Job.AnalysisCode = &other
			}
			migrated.docs[id.Hash] = "recorded by the Python wrapper"
			jobs := r.resolveAll([]job.File{f})
			found, err := r.recorded(context.Background(), jobs)
			if err != nil {
				t.Fatal(err)
			}
			if own.asked != tt.wantOwnIDs || migrated.asked != tt.wantMigrIDs {
				t.Fatalf("asked %d ids of the records, %d of the migrated-aware store; want %d, %d", own.asked, migrated.asked, tt.wantOwnIDs, tt.wantMigrIDs)
			}
			if found[id.Hash] != (tt.wantMigrIDs == 1) {
				t.Errorf("found %v", found)
			}
		})
	}
}
