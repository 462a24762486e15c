package wrapper_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/docdb"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/result"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/wrapper"
)

// testLease is short so a lost claim shows in seconds, and long enough that a renewal
// through the gateway on a busy machine fits in its deadline (a quarter of it).
const testLease = 2 * time.Second

// hookedClaims is the real claims store with a test hook before every Renew: the hook
// may stall (until ctx ends, as a hung gateway request would) or fail. It records
// whether each renewal had a deadline, and how far off.
type hookedClaims struct {
	wrapper.Claims
	before func(ctx context.Context) error

	mu        sync.Mutex
	deadlines []time.Duration // -1: none
}

func (h *hookedClaims) Renew(ctx context.Context, id, holder string, lease time.Duration) error {
	d := time.Duration(-1)
	if dl, ok := ctx.Deadline(); ok {
		d = time.Until(dl)
	}
	h.mu.Lock()
	h.deadlines = append(h.deadlines, d)
	h.mu.Unlock()
	if h.before != nil {
		if err := h.before(ctx); err != nil {
			return err
		}
	}
	return h.Claims.Renew(ctx, id, holder, lease)
}

// stallUntil blocks a renewal until resume is closed, the renewal's context ends, or
// (so a wrapper without renewal deadlines fails the test instead of hanging it) three
// leases have passed.
func stallUntil(resume <-chan struct{}) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-resume:
			return nil
		case <-time.After(3 * testLease):
			return nil
		}
	}
}

// TestLostClaimExitsTransient loses the job's claim in every way it can be lost while the
// job runs. Each must stop the job and fail it transiently (exit 75, so the pipeline
// retries; not 130 "interrupted" or 1 "failed"), uploading and recording nothing.
func TestLostClaimExitsTransient(t *testing.T) {
	const holder = "wrapper-a"
	// steal takes the claim from the wrapper, as a wrapper that found it expired would.
	steal := func(t *testing.T, f *fixture, hash string) {
		ctx := context.Background()
		if err := f.claims.Release(ctx, holder, []string{hash}); err != nil {
			t.Error(err)
		}
		if held, err := f.claims.Claim(ctx, hash, "thief", time.Minute); err != nil || !held {
			t.Errorf("stealing the claim: %v %v", held, err)
		}
	}
	waitCancelled := func(ctx context.Context) (map[string]any, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(4 * testLease): // never cancelled: go on and publish
			return map[string]any{"n_bytes": 1}, nil
		}
	}
	tests := []struct {
		name     string
		renew    func(ctx context.Context) error // hook before each renewal
		analysis func(t *testing.T, f *fixture) wrapper.AnalysisFunc
	}{
		{"taken over while a Go analysis runs", nil, func(t *testing.T, f *fixture) wrapper.AnalysisFunc {
			return func(ctx context.Context, in wrapper.Input) (map[string]any, error) {
				steal(t, f, in.Hash)
				return waitCancelled(ctx)
			}
		}},
		{"taken over while a command runs", nil, func(t *testing.T, f *fixture) wrapper.AnalysisFunc {
			return func(ctx context.Context, in wrapper.Input) (map[string]any, error) {
				steal(t, f, in.Hash)
				return wrapper.Command{Argv: []string{"sleep", "30"}, KillDelay: 100 * time.Millisecond}.Run(ctx, in)
			}
		}},
		{"taken over, the analysis ignores it and returns", nil, func(t *testing.T, f *fixture) wrapper.AnalysisFunc {
			return func(ctx context.Context, in wrapper.Input) (map[string]any, error) {
				steal(t, f, in.Hash)
				time.Sleep(testLease) // a renewal is refused meanwhile
				return map[string]any{"n_bytes": 1}, nil
			}
		}},
		{"renewals hang past the lease", stallUntil(nil), func(t *testing.T, f *fixture) wrapper.AnalysisFunc {
			return func(ctx context.Context, in wrapper.Input) (map[string]any, error) { return waitCancelled(ctx) }
		}},
		{"renewals fail transiently past the lease", func(context.Context) error {
			return fault.Transient(errors.New("DocDB gateway unavailable (test)"))
		}, func(t *testing.T, f *fixture) wrapper.AnalysisFunc {
			return func(ctx context.Context, in wrapper.Input) (map[string]any, error) { return waitCancelled(ctx) }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.addJob(t, nil)
			cfg := f.config(t)
			cfg.Holder, cfg.Lease = holder, testLease
			deps := f.deps(nil)
			claims := &hookedClaims{Claims: f.claims, before: tt.renew}
			deps.Claims = claims
			sum, err := wrapper.Run(context.Background(), cfg, deps, tt.analysis(t, f))
			if err != nil {
				t.Fatal(err)
			}
			res := sum.Results[0]
			if res.Status != wrapper.StatusFailed || fault.ExitCode(sum.Err()) != fault.ExitTransient || !errors.Is(sum.Err(), wrapper.ErrClaimLost) {
				t.Fatalf("result %+v, exit %d: want a transient failure (%d) for a lost claim", res, fault.ExitCode(sum.Err()), fault.ExitTransient)
			}
			if res.Duration > 3*testLease {
				t.Fatalf("the job ran %s after losing its claim (lease %s)", res.Duration, testLease)
			}
			if rec := f.record(t, res.Hash); rec != nil {
				t.Fatal("a job that lost its claim was recorded")
			}
			if objs := f.objects(t, "s3://"+f.bucket+"/results"); len(objs) != 0 {
				t.Fatalf("a job that lost its claim uploaded %v", objs)
			}
			claims.mu.Lock()
			defer claims.mu.Unlock()
			for _, d := range claims.deadlines {
				if d < 0 || d >= testLease {
					t.Fatalf("a renewal with deadline %s: want one shorter than the lease (%s)", d, testLease)
				}
			}
		})
	}
}

// TestStalledHolderDoesNotClobberTheWinner runs two wrappers on one job. A's renewals
// hang past its lease; B takes the job over, publishes and records it; then A's
// analysis resumes (its renewals still hanging). A must stop (exit 75) without touching B's result: one
// record, B's, and under the prefix exactly B's files, each matching B's manifest.json
// in size and SHA-256.
func TestStalledHolderDoesNotClobberTheWinner(t *testing.T) {
	tests := []struct {
		name      string
		honourCtx bool // the analysis stops when its context is cancelled
	}{
		{"the analysis stops when told", true},
		{"the analysis ignores cancellation and returns after B", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t)
			f.addJob(t, nil)
			resume, bRecorded, aStarted := make(chan struct{}), make(chan struct{}), make(chan struct{})
			writer := func(who string, wait func(ctx context.Context)) wrapper.AnalysisFunc {
				return func(ctx context.Context, in wrapper.Input) (map[string]any, error) {
					for name, text := range map[string]string{"result.txt": "from " + who, "sub/extra.txt": who + " was here"} {
						p := filepath.Join(in.OutputDir, filepath.FromSlash(name))
						if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
							return nil, err
						}
						if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
							return nil, err
						}
					}
					if wait != nil {
						wait(ctx)
					}
					return map[string]any{"n_bytes": 1}, nil
				}
			}

			// A: its renewals stall until resume; its analysis waits for B's record.
			cfgA := f.config(t)
			cfgA.Holder, cfgA.Lease = "wrapper-a", testLease
			depsA := f.deps(nil)
			depsA.Claims = &hookedClaims{Claims: f.claims, before: stallUntil(resume)}
			type outcome struct {
				sum wrapper.Summary
				err error
			}
			aDone := make(chan outcome, 1)
			go func() {
				sum, err := wrapper.Run(ctx, cfgA, depsA, writer("A", func(ctx context.Context) {
					close(aStarted)
					if tt.honourCtx {
						select {
						case <-ctx.Done():
						case <-bRecorded:
						}
						return
					}
					<-bRecorded
				}))
				aDone <- outcome{sum, err}
			}()
			<-aStarted

			// B: retries while A's claim is live, then takes the job over.
			cfgB := f.config(t)
			cfgB.Holder = "wrapper-b"
			var sumB wrapper.Summary
			for deadline := time.Now().Add(10 * testLease); ; {
				var err error
				sumB, err = wrapper.Run(ctx, cfgB, f.deps(nil), writer("B", nil))
				if err != nil {
					t.Fatal(err)
				}
				if sumB.Results[0].Status != wrapper.StatusDeferred || time.Now().After(deadline) {
					break
				}
				time.Sleep(testLease / 4)
			}
			if sumB.Results[0].Status != wrapper.StatusDone || sumB.Err() != nil {
				t.Fatalf("B: %+v", sumB.Results)
			}
			// A's analysis resumes; its renewals stay stalled while it goes on (to publish,
			// before the fix), and resume once it is done.
			close(bRecorded)
			a := <-aDone
			close(resume)
			if a.err != nil {
				t.Fatal(a.err)
			}
			if code := fault.ExitCode(a.sum.Err()); code != fault.ExitTransient || !errors.Is(a.sum.Err(), wrapper.ErrClaimLost) {
				t.Errorf("A: exit %d, %+v: want %d for its lost claim", code, a.sum.Results, fault.ExitTransient)
			}

			hash := sumB.Results[0].Hash
			verifyResult(t, f, hash, filepath.Join(cfgB.OutputDir, hash), "from B")
		})
	}
}

// verifyResult checks the job's one record is the one whose local result folder is
// localDir, and that the prefix holds exactly that result: manifest.json as written
// there, and every file it lists with its size and SHA-256.
func verifyResult(t *testing.T, f *fixture, hash, localDir, resultText string) {
	t.Helper()
	ctx := context.Background()
	var localMeta map[string]any
	b, err := os.ReadFile(filepath.Join(localDir, result.MetadataFile))
	if err != nil || json.Unmarshal(b, &localMeta) != nil {
		t.Fatalf("local metadata: %v", err)
	}
	rec := f.record(t, hash)
	dp := func(m map[string]any) any {
		return m["processing"].(map[string]any)["data_processes"].([]any)[0].(map[string]any)["start_date_time"]
	}
	if rec == nil || dp(rec) != dp(localMeta) {
		t.Fatalf("record %v is not the winner's (started %v)", rec, dp(localMeta))
	}
	if n, err := f.records.Existing(ctx, []string{hash}); err != nil || len(n) != 1 {
		t.Fatalf("records for %s: %v %v", hash, n, err)
	}

	prefix := storage.MustParse("s3://" + f.bucket + "/results/" + hash)
	read := func(rel string) []byte {
		r, err := f.store.Open(ctx, prefix.Join(rel))
		if err != nil {
			t.Fatalf("reading %s: %v", rel, err)
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("reading %s: %v", rel, err)
		}
		return b
	}
	manifest := read(result.ManifestFile)
	local, _ := os.ReadFile(filepath.Join(localDir, result.ManifestFile))
	if string(manifest) != string(local) {
		t.Fatalf("manifest.json under the prefix is not the winner's:\n%s\nwant\n%s", manifest, local)
	}
	var m result.Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		t.Fatal(err)
	}
	objs := f.objects(t, prefix.String())
	if len(objs) != len(m.Files)+1 {
		t.Fatalf("prefix holds %v; the manifest lists %d files", objs, len(m.Files))
	}
	for _, e := range m.Files {
		b := read(e.Path)
		sum := sha256.Sum256(b)
		if int64(len(b)) != e.Size || objs[e.Path] != e.Size || hex.EncodeToString(sum[:]) != e.SHA256 {
			t.Fatalf("%s: %d bytes, sha256 %x; manifest says %d, %s", e.Path, len(b), sum, e.Size, e.SHA256)
		}
	}
	if got := string(read("result.txt")); got != resultText {
		t.Fatalf("result.txt = %q, want %q", got, resultText)
	}
}

// recordsHook is the real records store with a hook before InsertIfAbsent.
type recordsHook struct {
	docdb.Store
	before func(ctx context.Context, id string)
}

func (h recordsHook) InsertIfAbsent(ctx context.Context, id string, doc any) (bool, error) {
	h.before(ctx, id)
	return h.Store.InsertIfAbsent(ctx, id, doc)
}

// TestRecordWrittenElsewhereIsLeftAlone makes another wrapper's record appear while this
// one holds the claim (as a late write of a wrapper whose lease ran out would): before
// this one clears the prefix, and between its last check and its insert. This wrapper
// must leave that record and the objects under the prefix alone, and count the job as
// skipped (exit 0: the job is done).
func TestRecordWrittenElsewhereIsLeftAlone(t *testing.T) {
	theirs := func(hash string) bson.D {
		return bson.D{{Key: "_id", Value: hash}, {Key: "name", Value: hash}, {Key: "by", Value: "the other wrapper"}}
	}
	tests := []struct {
		name        string
		beforeClear bool // the record appears while the analysis runs; else just before the insert
	}{
		{"before the prefix is cleared", true},
		{"between the last check and the insert", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t)
			stem := f.addJob(t, nil)
			cfg := f.config(t)
			deps := f.deps(nil)
			prefix := "s3://" + f.bucket + "/results/"
			plant := func(ctx context.Context, hash string) {
				if err := f.store.Put(ctx, storage.MustParse(prefix+hash+"/their.txt"), strings.NewReader("theirs"), storage.PutOptions{}); err != nil {
					t.Error(err)
				}
				if ours, err := f.records.InsertIfAbsent(ctx, hash, theirs(hash)); err != nil || !ours {
					t.Errorf("planting the other record: %v %v", ours, err)
				}
			}
			var runs atomic.Int64
			analysis := countingAnalysis(&runs)
			if tt.beforeClear {
				analysis = func(ctx context.Context, in wrapper.Input) (map[string]any, error) {
					plant(ctx, in.Hash)
					return countingAnalysis(&runs)(ctx, in)
				}
			} else {
				deps.Records = recordsHook{Store: f.records, before: plant}
			}
			sum, err := wrapper.Run(ctx, cfg, deps, analysis)
			if err != nil {
				t.Fatal(err)
			}
			res := sum.Results[0]
			if res.Status != wrapper.StatusSkipped || sum.Err() != nil {
				t.Fatalf("result %+v (%v): want the job skipped as done by another wrapper", res, sum.Err())
			}
			if b, err := os.ReadFile(filepath.Join(cfg.OutputDir, "skip_"+stem)); err != nil || !strings.Contains(string(b), "another wrapper") {
				t.Fatalf("skip marker %s: %v", b, err)
			}
			if rec := f.record(t, res.Hash); rec["by"] != "the other wrapper" || len(rec) != 3 {
				t.Fatalf("the other wrapper's record was changed: %v", rec)
			}
			objs := f.objects(t, prefix+res.Hash)
			if objs["their.txt"] != 6 {
				t.Fatalf("the other wrapper's object was deleted: %v", objs)
			}
			if tt.beforeClear && len(objs) != 1 {
				t.Fatalf("uploaded under a recorded prefix: %v", objs)
			}
		})
	}
}
