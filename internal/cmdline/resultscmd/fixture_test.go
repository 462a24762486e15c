package resultscmd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/clitest"
	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/devstacktest"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/docdb"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/params"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/wrapper"
)

var bin string

func TestMain(m *testing.M) {
	bins, cleanup := clitest.Build("github.com/allenneuraldynamics/aind-analysis-go/cmd/aind-results")
	bin = bins["aind-results"]
	code := devstacktest.Main(m)
	cleanup()
	os.Exit(code)
}

const paramSchema = `{
  "type": "object",
  "properties": {
    "analysis_name": {"type": "string"},
    "analysis_tag": {"type": "string"},
    "cutoff": {"type": "number"},
    "window": {"type": "integer", "default": 10},
    "smooth": {"type": "boolean", "default": false}
  },
  "required": ["analysis_name", "cutoff"]
}`

// world is a devstack with result records from real wrapper runs:
//
//	run 0 (code 1.0.0): job A (asset1, cutoff 0.25) done
//	run 1 (code 1.0.0): A skipped (recorded), B (asset2, cutoff 0.5, tag "b") done,
//	                    C (asset1, cutoff 0.9) failed; its output folder is the report's run
//	run 2 (code 2.0.0): A again, done: a newer record of the same work in a new version
type world struct {
	env                *devstacktest.Env
	db, bucket         string
	records            docdb.Store
	store              *storage.Router
	asset1, asset2     string
	hashA1, hashA2     string
	hashB, hashC       string
	jobA, jobB, jobC   string
	run1Dir            string
	createdA1, createB string
}

// vars is the environment the binary runs with.
func (w *world) vars() map[string]string {
	v := map[string]string{}
	for k, val := range w.env.Vars {
		v[k] = val
	}
	for k, val := range w.env.DocDBVars() {
		v[k] = val
	}
	v["DOCDB_DATABASE"], v["DOCDB_COLLECTION"] = w.db, "results"
	v["DOCDB_ASSET_DATABASE"], v["DOCDB_ASSET_COLLECTION"] = w.db, "assets"
	v["AIND_LOG_LEVEL"] = "warn"
	return v
}

func (w *world) run(t *testing.T, args ...string) clitest.Result {
	t.Helper()
	return clitest.Run(t, bin, w.vars(), args...)
}

// plotPNG is a small real PNG, as an analysis' plot.
func plotPNG(seed int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 32))
	for x := 0; x < 64; x++ {
		for y := 0; y < 32; y++ {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 8), uint8(seed * 60), 255})
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}

// analysis reads its input, writes a plot and returns nested outputs; cutoff > 0.8 fails.
var analysis = wrapper.AnalysisFunc(func(ctx context.Context, in wrapper.Input) (map[string]any, error) {
	r, err := in.Store.Open(ctx, storage.MustParse(in.Job.FileLocation[0]))
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		return nil, err
	}
	cutoff, err := strconv.ParseFloat(fmt.Sprint(in.Parameters["cutoff"]), 64)
	if err != nil {
		return nil, err
	}
	in.Log.Info().Int("bytes", len(b)).Float64("cutoff", cutoff).Msg("read input")
	if cutoff > 0.8 {
		in.Log.Error().Msg("cutoff too high: nothing passes")
		return nil, errors.New("no samples above cutoff 0.9")
	}
	if err := os.WriteFile(filepath.Join(in.OutputDir, "plot.png"), plotPNG(len(b)), 0o644); err != nil {
		return nil, err
	}
	return map[string]any{"n_bytes": len(b), "score": map[string]any{"mean": float64(len(b)) * cutoff}}, nil
})

func newWorld(t *testing.T) *world {
	t.Helper()
	env := devstacktest.Get(t)
	env.Setenv(t)
	w := &world{env: env, db: env.NewDatabase(t), bucket: env.NewBucket(t)}
	w.asset1, w.asset2 = "s3://"+w.bucket+"/inputs/asset1", "s3://"+w.bucket+"/inputs/asset2"
	env.PutObjects(t, w.bucket, map[string]string{"inputs/asset1/data.nwb": "0123456789", "inputs/asset2/data.nwb": "01234"})
	env.InsertDocs(t, w.db, "assets", []any{
		map[string]any{"_id": "asset-1-id", "location": w.asset1},
		map[string]any{"_id": "asset-2-id", "location": w.asset2},
	})
	backend := env.OpenDocDB(t)
	w.records = backend.Collection(w.db, "results")
	claims := backend.Collection(w.db, "results_claims")
	var err error
	if w.store, err = storage.New(context.Background(), storage.Options{}); err != nil {
		t.Fatal(err)
	}
	ps, err := params.CompileSchema("params.json", []byte(paramSchema))
	if err != nil {
		t.Fatal(err)
	}
	runJobs := func(version string, jobs map[string]map[string]any) (wrapper.Summary, string) {
		t.Helper()
		dir := t.TempDir()
		names := map[string]string{}
		for key, dp := range jobs {
			asset := w.asset1
			if key == "B" {
				asset = w.asset2
			}
			j := job.Job{S3Location: []string{asset}, AssetName: []string{filepath.Base(asset)}, DocDBRecordID: []string{key},
				FileLocation: []string{asset + "/data.nwb"}, DistributedParameters: dp}
			name, _ := j.FileName()
			b, _ := j.Marshal()
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
			names[key] = strings.TrimSuffix(name, ".json")
		}
		w.jobA, w.jobB, w.jobC = or(names["A"], w.jobA), or(names["B"], w.jobB), or(names["C"], w.jobC)
		cfg := wrapper.Config{
			JobDir: dir, OutputDir: t.TempDir(), ScratchDir: t.TempDir(),
			Parameters:      params.File{Fixed: map[string]any{"analysis_name": "demo", "cutoff": 0.5}},
			ParameterSchema: ps,
			Code:            identity.CodeInfo{URL: "https://example.org/analysis", Name: "analysis", Version: version, RunScript: "code/run"},
			Bucket:          storage.MustParse("s3://" + w.bucket + "/results"), Experimenters: []string{"someone@example.org"},
			Lease: 30 * time.Second, UploadConcurrency: 4,
		}
		sum, err := wrapper.Run(context.Background(), cfg, wrapper.Deps{Records: w.records, Claims: claims, Store: w.store, Log: zerolog.New(io.Discard), LogOutput: io.Discard}, analysis)
		if err != nil {
			t.Fatalf("wrapper run: %v", err)
		}
		return sum, cfg.OutputDir
	}
	hashOf := func(sum wrapper.Summary, job string, want wrapper.Status) string {
		t.Helper()
		for _, r := range sum.Results {
			if r.Job == job {
				if r.Status != want {
					t.Fatalf("job %s: %s (%s), want %s", job, r.Status, r.Error, want)
				}
				return r.Hash
			}
		}
		t.Fatalf("job %s not in %+v", job, sum.Results)
		return ""
	}
	a := map[string]any{"cutoff": 0.25}
	sum, _ := runJobs("1.0.0", map[string]map[string]any{"A": a})
	w.hashA1 = hashOf(sum, w.jobA, wrapper.StatusDone)
	time.Sleep(20 * time.Millisecond) // distinct created times
	sum, w.run1Dir = runJobs("1.0.0", map[string]map[string]any{"A": a, "B": {"cutoff": 0.5, "analysis_tag": "b"}, "C": {"cutoff": 0.9}})
	if h := hashOf(sum, w.jobA, wrapper.StatusSkipped); h != w.hashA1 {
		t.Fatalf("A skipped with hash %s, want %s", h, w.hashA1)
	}
	w.hashB = hashOf(sum, w.jobB, wrapper.StatusDone)
	w.hashC = hashOf(sum, w.jobC, wrapper.StatusFailed)
	time.Sleep(20 * time.Millisecond)
	sum, _ = runJobs("2.0.0", map[string]map[string]any{"A": a})
	w.hashA2 = hashOf(sum, w.jobA, wrapper.StatusDone)
	return w
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// lines splits output into non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

func mustOK(t *testing.T, r clitest.Result, what string) {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", what, r.Code, r.Stdout, r.Stderr)
	}
}
