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
	err     error
}

func (f *fakeRecords) Existing(_ context.Context, ids []string) (map[string]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
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
func (f *fakeClaims) Release(context.Context, string, string) error {
	f.released++
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
			id, err := r.resolve(testJob(t).Job, zerolog.Nop())
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
		recorded     bool // a record appears between the first check and the claim
		wantStatus   Status
		wantHeld     bool
		wantErr      bool
		wantReleases int
	}{
		{"a dry run claims nothing", true, &fakeClaims{}, false, "", false, false, 0},
		{"claimed", false, &fakeClaims{}, false, "", true, false, 1},
		{"held by another wrapper", false, &fakeClaims{held: true}, false, StatusDeferred, false, false, 0},
		{"recorded meanwhile", false, &fakeClaims{}, true, StatusSkipped, false, false, 1},
		{"the claim fails", false, &fakeClaims{err: errors.New("down")}, false, "", false, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			records := &fakeRecords{docs: map[string]any{}}
			if tt.recorded {
				records.docs["h"] = 1
			}
			r := testRunner(t, records, tt.claims, nil)
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
			id, err := r.resolve(f.Job, zerolog.Nop())
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
		{"recorded by another wrapper before the fence", true, result.ErrRecordedElsewhere, 0},
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
