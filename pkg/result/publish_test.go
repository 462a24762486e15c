package result

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
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// The publish protocol's store-level steps, on a local store, with a fence and records
// that log what was asked of them.

// journal is the order of the steps taken: fences, deletes and writes.
type journal struct {
	mu    sync.Mutex
	steps []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.steps = append(j.steps, s)
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.steps...)
}

// loggedStore logs deletes and writes by path relative to the bucket and counts reads;
// before, if set, runs before each Put (a concurrent writer).
type loggedStore struct {
	storage.Store
	bucket storage.URL
	j      *journal
	before func(u storage.URL)

	mu    sync.Mutex
	opens map[string]int // reads, by path relative to the bucket
	lists int
}

func (s *loggedStore) List(ctx context.Context, prefix storage.URL, fn func(storage.Object) error) error {
	s.mu.Lock()
	s.lists++
	s.mu.Unlock()
	return s.Store.List(ctx, prefix, fn)
}

func (s *loggedStore) Open(ctx context.Context, u storage.URL) (io.ReadCloser, error) {
	s.mu.Lock()
	if s.opens == nil {
		s.opens = map[string]int{}
	}
	s.opens[s.rel(u)]++
	s.mu.Unlock()
	return s.Store.Open(ctx, u)
}

func (s *loggedStore) rel(u storage.URL) string {
	return strings.TrimPrefix(u.String(), s.bucket.String()+"/")
}

func (s *loggedStore) Put(ctx context.Context, u storage.URL, r io.Reader, o storage.PutOptions) error {
	if s.before != nil {
		s.before(u)
	}
	s.j.add("put " + s.rel(u))
	return s.Store.Put(ctx, u, r, o)
}

func (s *loggedStore) PutFile(ctx context.Context, p string, u storage.URL, o storage.PutOptions) error {
	s.j.add("put " + s.rel(u))
	return s.Store.PutFile(ctx, p, u, o)
}

func (s *loggedStore) Delete(ctx context.Context, u storage.URL) error {
	s.j.add("delete " + s.rel(u))
	return s.Store.Delete(ctx, u)
}

// fakeFence logs each confirmation and fails with err.
type fakeFence struct {
	j   *journal
	err error
}

func (f fakeFence) Confirm(_ context.Context, step string) error {
	f.j.add("fence " + step)
	return f.err
}

// fakeRecords holds records by id.
type fakeRecords struct {
	j    *journal
	docs map[string]any
	err  error
}

func (f *fakeRecords) InsertIfAbsent(_ context.Context, id string, doc any) (bool, error) {
	f.j.add("insert " + id)
	if f.err != nil {
		return false, f.err
	}
	if old, ok := f.docs[id]; ok {
		return fmt.Sprint(old) == fmt.Sprint(doc), nil
	}
	f.docs[id] = doc
	return true, nil
}

type fixture struct {
	j       *journal
	store   *loggedStore
	bucket  storage.URL
	records *fakeRecords
	dir     string // the local result folder
}

func newFixture(t *testing.T, files map[string]string) *fixture {
	t.Helper()
	root := t.TempDir()
	bucket, err := storage.Parse(filepath.Join(root, "bucket"))
	if err != nil {
		t.Fatal(err)
	}
	j := &journal{}
	f := &fixture{j: j, bucket: bucket, dir: filepath.Join(root, "out"),
		store:   &loggedStore{Store: storage.NewLocal(), bucket: bucket, j: j},
		records: &fakeRecords{j: j, docs: map[string]any{}}}
	for p, text := range files {
		write(t, filepath.Join(f.dir, filepath.FromSlash(p)), text)
	}
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) publisher() Publisher {
	return Publisher{Store: f.store, Bucket: f.bucket, Records: f.records, Concurrency: 2,
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }, Log: zerolog.Nop()}
}

// published returns the objects under <bucket>/h/ and their content.
func (f *fixture) published(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := f.store.List(context.Background(), f.bucket.Join("h"), func(o storage.Object) error {
		b, err := os.ReadFile(o.URL.Path)
		out[o.Rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
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

func TestUploadClearsLeftoversAfterTheFenceAndWritesTheManifestLast(t *testing.T) {
	f := newFixture(t, map[string]string{"a.txt": "alpha", "sub/b.txt": "bee", "metadata.nd.json": "{}"})
	// A crashed holder's partial upload: a stale file and one this upload also writes.
	write(t, filepath.Join(f.bucket.Path, "h", "stale.txt"), "old")
	write(t, filepath.Join(f.bucket.Path, "h", "a.txt"), "half")

	m, err := f.publisher().Upload(context.Background(), fakeFence{j: f.j}, "h", f.dir, Prefix{})
	if err != nil {
		t.Fatal(err)
	}
	steps := f.j.all()
	if steps[0] != "fence "+StepUpload {
		t.Fatalf("first step %q, want the fence; steps %v", steps[0], steps)
	}
	deletes := 0
	for i, s := range steps {
		if strings.HasPrefix(s, "delete ") {
			deletes++
			if i < 1 {
				t.Errorf("%s before the fence", s)
			}
		}
		if strings.HasPrefix(s, "put ") && deletes < 2 {
			t.Errorf("%s before the leftovers were cleared (%v)", s, steps)
		}
	}
	if deletes != 2 {
		t.Errorf("%d deletes, want 2 (%v)", deletes, steps)
	}
	if last := steps[len(steps)-1]; last != "put h/"+ManifestFile {
		t.Errorf("last step %q, want the manifest (%v)", last, steps)
	}
	got := f.published(t)
	want := map[string]string{"a.txt": "alpha", "sub/b.txt": "bee", "metadata.nd.json": "{}"}
	for p, text := range want {
		if got[p] != text {
			t.Errorf("%s = %q, want %q", p, got[p], text)
		}
	}
	if _, ok := got["stale.txt"]; ok || len(got) != len(want)+1 {
		t.Errorf("published %v", got)
	}
	if m.Hash != "h" || m.Created != "2026-01-02T03:04:05Z" || len(m.Files) != 3 || m.Files[0].Path != "a.txt" || m.Files[2].Path != "sub/b.txt" {
		t.Fatalf("manifest %+v", m)
	}
	if e := m.Files[0]; e.Size != 5 || e.SHA256 != "8ed3f6ad685b959ead7022518e1af76cd816f8e8ec7ccdda1ed4018e8f2223f8" {
		t.Errorf("a.txt entry %+v", e)
	}
	// The manifest is the one read back.
	back, err := ReadManifest(context.Background(), f.store, f.bucket.Join("h"))
	if err != nil || back.Hash != "h" || len(back.Files) != 3 || back.Files[1] != m.Files[1] {
		t.Fatalf("ReadManifest = %+v, %v", back, err)
	}
}

func TestUploadStopsAtTheFence(t *testing.T) {
	for _, fenceErr := range []error{
		fmt.Errorf("%w (found before uploading into the prefix)", ErrRecordedElsewhere),
		fault.Transient(errors.New("claim lost")),
	} {
		t.Run(fenceErr.Error(), func(t *testing.T) {
			f := newFixture(t, map[string]string{"a.txt": "alpha"})
			write(t, filepath.Join(f.bucket.Path, "h", "a.txt"), "the recorded result")
			_, err := f.publisher().Upload(context.Background(), fakeFence{j: f.j, err: fenceErr}, "h", f.dir, Prefix{})
			if !errors.Is(err, fenceErr) {
				t.Fatalf("Upload: %v, want the fence's error", err)
			}
			if steps := f.j.all(); len(steps) != 1 {
				t.Errorf("steps after a refused fence: %v", steps)
			}
			if got := f.published(t); len(got) != 1 || got["a.txt"] != "the recorded result" {
				t.Errorf("the prefix was touched: %v", got)
			}
		})
	}
}

func TestUploadNeverOverwrites(t *testing.T) {
	f := newFixture(t, map[string]string{"a.txt": "ours"})
	// Another writer puts a.txt between the clearing and our upload.
	f.store.before = func(u storage.URL) {
		if strings.HasSuffix(u.Path, "a.txt") {
			write(t, u.Path, "theirs")
		}
	}
	_, err := f.publisher().Upload(context.Background(), fakeFence{j: f.j}, "h", f.dir, Prefix{})
	if err == nil || !fault.IsTransient(err) || !strings.Contains(err.Error(), "another wrapper is publishing") {
		t.Fatalf("Upload: %v, want a transient error naming the other writer", err)
	}
	if got := f.published(t); got["a.txt"] != "theirs" || len(got) != 1 {
		t.Errorf("published %v: the other writer's file was overwritten or the manifest written", got)
	}
}

func TestRecordFencesThenInsertsIfAbsent(t *testing.T) {
	meta := identity.NewMetadata(identity.Run{Hash: "h", Location: "s3://b/h", Start: time.Now(), End: time.Now()})
	tests := []struct {
		name      string
		existing  any   // a record already stored under h
		fenceErr  error // the fence's answer
		wantErr   error
		wantSteps []string
	}{
		{"ours", nil, nil, nil, []string{"fence writing the record", "insert h"}},
		{"recorded before the fence", nil, fmt.Errorf("%w (found before writing the record)", ErrRecordedElsewhere), ErrRecordedElsewhere, []string{"fence writing the record"}},
		{"recorded between the fence and the insert", "theirs", nil, ErrRecordedElsewhere, []string{"fence writing the record", "insert h"}},
		{"claim lost", nil, errors.New("claim lost"), nil, []string{"fence writing the record"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			if tt.existing != nil {
				f.records.docs["h"] = tt.existing
			}
			err := f.publisher().Record(context.Background(), fakeFence{j: f.j, err: tt.fenceErr}, Manifest{Hash: "h"}, meta)
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("Record: %v, want %v", err, tt.wantErr)
			case tt.wantErr == nil && tt.fenceErr != nil && !errors.Is(err, tt.fenceErr):
				t.Fatalf("Record: %v, want the fence's error", err)
			case tt.wantErr == nil && tt.fenceErr == nil && err != nil:
				t.Fatalf("Record: %v", err)
			}
			if got := f.j.all(); fmt.Sprint(got) != fmt.Sprint(tt.wantSteps) {
				t.Errorf("steps %v, want %v", got, tt.wantSteps)
			}
			if tt.existing == nil && tt.fenceErr == nil {
				doc, ok := f.records.docs["h"].(bson.D)
				if !ok || doc[0].Key != "_id" || doc[0].Value != "h" {
					t.Errorf("stored %v", f.records.docs["h"])
				}
			}
		})
	}
}
