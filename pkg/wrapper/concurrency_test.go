package wrapper

import (
	"context"
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
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// inFlight counts what runs at once: now and the most seen.
type inFlight struct {
	mu       sync.Mutex
	now, max int
	keys     map[string]int // the key of each entry running (a job's hash)
	maxKeys  int            // the most distinct keys at once
}

func (f *inFlight) enter(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.keys == nil {
		f.keys = map[string]int{}
	}
	f.now++
	f.keys[key]++
	f.max, f.maxKeys = max(f.max, f.now), max(f.maxKeys, len(f.keys))
}

func (f *inFlight) leave(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now--
	if f.keys[key]--; f.keys[key] == 0 {
		delete(f.keys, key)
	}
}

// slowStore is a local store whose writes take 30 ms each and are counted per job prefix.
type slowStore struct {
	storage.Store
	bucket string // the bucket's URL: a key is the job's hash, the first folder below it
	puts   *inFlight
}

func (s slowStore) put(u storage.URL) func() {
	key, _, _ := strings.Cut(strings.TrimPrefix(u.String(), s.bucket+"/"), "/")
	s.puts.enter(key)
	time.Sleep(30 * time.Millisecond)
	return func() { s.puts.leave(key) }
}

func (s slowStore) Put(ctx context.Context, u storage.URL, r io.Reader, opts storage.PutOptions) error {
	defer s.put(u)()
	return s.Store.Put(ctx, u, r, opts)
}

func (s slowStore) PutFile(ctx context.Context, path string, u storage.URL, opts storage.PutOptions) error {
	defer s.put(u)()
	return s.Store.PutFile(ctx, path, u, opts)
}

// syncClaims grants every claim; safe for concurrent use.
type syncClaims struct {
	mu       sync.Mutex
	released int // claims released
	requests int // Release calls
}

func (*syncClaims) Claim(context.Context, string, string, time.Duration) (bool, error) {
	return true, nil
}
func (*syncClaims) Renew(context.Context, string, string, time.Duration) error { return nil }
func (c *syncClaims) Release(_ context.Context, _ string, ids []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.released += len(ids)
	c.requests++
	return nil
}

// TestConcurrentJobs: with ConcurrentJobs > 1 the uploads of several jobs overlap while
// their analyses still run one at a time; with 1, one job's upload at a time. Every job is
// done, recorded once, and its claim released, either way.
func TestConcurrentJobs(t *testing.T) {
	const jobs = 8
	for _, tt := range []struct {
		concurrent      int
		wantJobsUploads func(int) bool
		want            string
	}{
		{1, func(n int) bool { return n == 1 }, "1"},
		{4, func(n int) bool { return n >= 2 && n <= 4 }, "2 to 4"},
	} {
		t.Run(fmt.Sprint(tt.concurrent), func(t *testing.T) {
			dir := t.TempDir()
			jobDir := filepath.Join(dir, "job_dict")
			if err := os.MkdirAll(jobDir, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := range jobs {
				write(t, filepath.Join(jobDir, fmt.Sprintf("job_%d.json", i)),
					fmt.Sprintf(`{"s3_location": ["s3://b/a%d"], "asset_name": ["a%d"], "docdb_record_id": ["id%d"]}`, i, i, i))
			}
			bucket, err := storage.Parse(filepath.Join(dir, "bucket"))
			if err != nil {
				t.Fatal(err)
			}
			records, claims := &fakeRecords{docs: map[string]any{}}, &syncClaims{}
			puts, analyses := &inFlight{}, &inFlight{}
			store := slowStore{Store: storage.NewLocal(), bucket: bucket.String(), puts: puts}
			cfg := Config{JobDir: jobDir, OutputDir: filepath.Join(dir, "out"), ScratchDir: filepath.Join(dir, "scratch"),
				Bucket: bucket, Lease: time.Minute, ConcurrentJobs: tt.concurrent,
				Code: identity.CodeInfo{URL: "u", Name: "n", Version: "1", RunScript: "code/run"}}
			deps := Deps{Records: records, Claims: claims, Store: store, Log: zerolog.Nop(), LogOutput: io.Discard}
			analysis := AnalysisFunc(func(_ context.Context, in Input) (map[string]any, error) {
				analyses.enter(in.Hash)
				defer analyses.leave(in.Hash)
				time.Sleep(5 * time.Millisecond)
				return nil, os.WriteFile(filepath.Join(in.OutputDir, "out.txt"), []byte(in.Hash), 0o644)
			})
			sum, err := Run(context.Background(), cfg, deps, analysis)
			if err != nil || sum.Count(StatusDone) != jobs || sum.Err() != nil {
				t.Fatalf("Run: %v; %s", err, sum.Line())
			}
			for i, res := range sum.Results {
				if want := fmt.Sprintf("job_%d", i); res.Job != want {
					t.Errorf("result %d is %s's, want %s's: results are in job order", i, res.Job, want)
				}
			}
			if analyses.max != 1 {
				t.Errorf("%d analyses ran at once, want 1", analyses.max)
			}
			if !tt.wantJobsUploads(puts.maxKeys) {
				t.Errorf("%d jobs uploaded at once, want %s", puts.maxKeys, tt.want)
			}
			if len(records.docs) != jobs || records.inserts != jobs || claims.released != jobs || claims.requests != 1 {
				t.Errorf("%d records (%d inserts), %d claims released in %d requests; want %d each, in one request", len(records.docs), records.inserts, claims.released, claims.requests, jobs)
			}
		})
	}
}
