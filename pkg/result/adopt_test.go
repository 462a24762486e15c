package result

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// jobCode is the Code block of a job and its identity, as the wrapper computes it.
func jobCode(t *testing.T, cutoff float64) (identity.Code, string) {
	t.Helper()
	code := identity.NewCode(identity.CodeInfo{URL: "https://example.org/analysis", Name: "analysis", Version: "1.0.0"},
		map[string]any{"cutoff": cutoff, "file_location": []any{"s3://in/asset/b.nwb", "s3://in/asset/a.nwb"}}, []string{"s3://in/asset"})
	h, err := code.Hash()
	if err != nil {
		t.Fatal(err)
	}
	return code, h
}

// publishJob writes the job's metadata.nd.json into the fixture's result folder, as the
// wrapper does, and publishes it under <bucket>/<hash>/.
func (f *fixture) publishJob(t *testing.T, code identity.Code, hash string) {
	t.Helper()
	meta := identity.NewMetadata(identity.Run{Code: code, Hash: hash, Location: f.bucket.Join(hash).String(), Start: time.Now(), End: time.Now()})
	if err := WriteJSON(filepath.Join(f.dir, MetadataFile), meta); err != nil {
		t.Fatal(err)
	}
	if _, err := f.publisher().Upload(context.Background(), fakeFence{j: f.j}, hash, f.dir, Prefix{}); err != nil {
		t.Fatal(err)
	}
}

// checksummedStore is a store that, like S3, gives each object's SHA-256 on Stat (that of
// its last write: here hashed from the file at Stat time); it counts Stats.
type checksummedStore struct {
	*loggedStore
	mu    sync.Mutex
	stats map[string]int
}

func (s *checksummedStore) Stat(ctx context.Context, u storage.URL) (storage.Object, error) {
	s.mu.Lock()
	if s.stats == nil {
		s.stats = map[string]int{}
	}
	s.stats[s.rel(u)]++
	s.mu.Unlock()
	obj, err := s.loggedStore.Stat(ctx, u)
	if err != nil {
		return obj, err
	}
	b, err := os.ReadFile(u.Path)
	obj.SHA256 = sha256Hex(b)
	return obj, err
}

// Adopt runs before every published job: with nothing under the prefix it costs one read
// (of manifest.json) and takes no step. A complete result is adopted with manifest.json and
// metadata.nd.json read once each and every other file checked by one Stat where the store
// keeps its SHA-256 (S3), read where it does not (the local store).
func TestAdoptReadsTheManifestOnce(t *testing.T) {
	ctx := context.Background()
	code, h := jobCode(t, 0.5)
	f := newFixture(t, map[string]string{"a.txt": "alpha"})
	adopted, err := f.publisher().Adopt(ctx, fakeFence{j: f.j}, h)
	if err != nil || adopted {
		t.Fatalf("Adopt on an empty prefix: %v, %v", adopted, err)
	}
	if want := map[string]int{h + "/" + ManifestFile: 1}; !reflect.DeepEqual(f.store.opens, want) {
		t.Errorf("reads on an empty prefix: %v, want %v", f.store.opens, want)
	}
	if steps := f.j.all(); len(steps) != 0 {
		t.Errorf("steps on an empty prefix: %v", steps)
	}

	f.publishJob(t, code, h)
	for _, tt := range []struct {
		name      string
		checksums bool
		reads     map[string]int
		stats     map[string]int
	}{
		{"store with checksums", true, map[string]int{h + "/" + ManifestFile: 1, h + "/" + MetadataFile: 1}, map[string]int{h + "/a.txt": 1}},
		{"store without checksums", false, map[string]int{h + "/" + ManifestFile: 1, h + "/" + MetadataFile: 1, h + "/a.txt": 1}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Another collection's records: the result is complete in the bucket, not recorded here.
			f.records = &fakeRecords{j: f.j, docs: map[string]any{}}
			f.store.opens, f.j.steps = nil, nil
			p := f.publisher()
			cs := &checksummedStore{loggedStore: f.store}
			if tt.checksums {
				p.Store = cs
			}
			adopted, err := p.Adopt(ctx, fakeFence{j: f.j}, h)
			if err != nil || !adopted {
				t.Fatalf("Adopt on a complete result: %v, %v", adopted, err)
			}
			if !reflect.DeepEqual(f.store.opens, tt.reads) {
				t.Errorf("reads to adopt: %v, want %v", f.store.opens, tt.reads)
			}
			if !reflect.DeepEqual(cs.stats, tt.stats) {
				t.Errorf("stats to adopt: %v, want %v", cs.stats, tt.stats)
			}
			if want := []string{"fence writing the record", "insert " + h}; !reflect.DeepEqual(f.j.all(), want) {
				t.Errorf("steps to adopt: %v, want %v", f.j.all(), want)
			}
		})
	}
}

// TestAdoptRecordsOnlyTheJobsOwn: a complete-looking result under a job's prefix is
// adopted only when its content is its manifest's and its metadata describes that job.
// Otherwise Adopt fails permanently, naming the prefix and the object or field, records
// nothing and touches nothing.
func TestAdoptRecordsOnlyTheJobsOwn(t *testing.T) {
	ctx := context.Background()
	code, h := jobCode(t, 0.5)
	otherCode, other := jobCode(t, 0.25)
	tests := []struct {
		name string
		// forge changes the published result of job h (<bucket>/h/), or passes another
		// job's off as it; checksums: the store gives SHA-256s on Stat, as S3 does.
		forge     func(t *testing.T, f *fixture)
		checksums bool
		wantErr   []string
	}{
		{"output overwritten in place, same size, store without checksums", func(t *testing.T, f *fixture) {
			write(t, filepath.Join(f.bucket.Path, h, "a.txt"), "ALPHA")
		}, false, []string{h + "/a.txt: sha256 " + sha256Hex([]byte("ALPHA")) + " read, " + sha256Hex([]byte("alpha")) + " in manifest.json"}},
		{"output overwritten in place, same size, store with checksums", func(t *testing.T, f *fixture) {
			write(t, filepath.Join(f.bucket.Path, h, "a.txt"), "ALPHA")
		}, true, []string{h + "/a.txt: sha256 " + sha256Hex([]byte("ALPHA")) + " in the store, " + sha256Hex([]byte("alpha")) + " in manifest.json"}},
		{"metadata overwritten in place, same size", func(t *testing.T, f *fixture) {
			p := filepath.Join(f.bucket.Path, h, MetadataFile)
			b, _ := os.ReadFile(p)
			write(t, p, strings.Replace(string(b), `"cutoff": 0.5`, `"cutoff": 0.7`, 1))
		}, true, []string{h + "/" + MetadataFile + ": sha256"}},
		{"another job's result copied under the hash, manifest rewritten", func(t *testing.T, f *fixture) {
			g := newFixture(t, map[string]string{"a.txt": "alpha"})
			g.bucket = f.bucket
			g.store.bucket = f.bucket
			g.publishJob(t, otherCode, other)
			copyResult(t, f, other, h)
		}, true, []string{h + "/" + MetadataFile + " describes job " + other + ", not " + h}},
		{"metadata renamed", func(t *testing.T, f *fixture) {
			rewriteMetadata(t, f, h, func(m *identity.Metadata) { m.Name = other })
		}, true, []string{h + "/" + MetadataFile + `: name is "` + other + `", not ` + h}},
		{"metadata pointing elsewhere", func(t *testing.T, f *fixture) {
			rewriteMetadata(t, f, h, func(m *identity.Metadata) { m.Location = "s3://elsewhere/" + h })
		}, true, []string{h + "/" + MetadataFile + `: location is "s3://elsewhere/` + h + `"`}},
		{"manifest without the metadata", func(t *testing.T, f *fixture) {
			m := readManifestFile(t, f, h)
			var files []ManifestEntry
			for _, e := range m.Files {
				if e.Path != MetadataFile {
					files = append(files, e)
				}
			}
			m.Files = files
			os.Remove(filepath.Join(f.bucket.Path, h, MetadataFile))
			writeManifestFile(t, f, h, m)
		}, true, []string{h + "/" + ManifestFile + " lists no " + MetadataFile}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, map[string]string{"a.txt": "alpha"})
			f.publishJob(t, code, h)
			tt.forge(t, f)
			before := f.objects(t)
			p := f.publisher()
			if tt.checksums {
				p.Store = &checksummedStore{loggedStore: f.store}
			}
			f.records = &fakeRecords{j: f.j, docs: map[string]any{}} // another collection
			p.Records = f.records
			f.j.steps = nil
			adopted, err := p.Adopt(ctx, fakeFence{j: f.j}, h)
			if err == nil || adopted {
				t.Fatalf("Adopt: %v, %v; want a refusal", adopted, err)
			}
			if code := fault.ExitCode(err); code != fault.ExitFailed {
				t.Errorf("error %v exits %d, want %d (permanent)", err, code, fault.ExitFailed)
			}
			for _, s := range append(tt.wantErr, f.bucket.Join(h).String(), "nothing recorded") {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if steps := f.j.all(); len(steps) != 0 {
				t.Errorf("steps taken: %v, want none (no fence, no write, no record)", steps)
			}
			if len(f.records.docs) != 0 {
				t.Errorf("records inserted: %v", f.records.docs)
			}
			if after := f.objects(t); !reflect.DeepEqual(after, before) {
				t.Errorf("objects changed:\n%v\nwant\n%v", after, before)
			}
		})
	}
}

// objects returns every object in the fixture's bucket and its content.
func (f *fixture) objects(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := f.store.Store.List(context.Background(), f.bucket, func(o storage.Object) error {
		b, err := os.ReadFile(o.URL.Path)
		out[o.Rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// copyResult copies every object of <bucket>/<from>/ to <bucket>/<to>/, its manifest's
// hash rewritten to to: another job's complete result passed off as to's.
func copyResult(t *testing.T, f *fixture, from, to string) {
	t.Helper()
	src, dst := filepath.Join(f.bucket.Path, from), filepath.Join(f.bucket.Path, to)
	if err := os.RemoveAll(dst); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	m := readManifestFile(t, f, to)
	m.Hash = to
	writeManifestFile(t, f, to, m)
}

// rewriteMetadata changes the published metadata.nd.json of hash and the manifest with it,
// so that only the metadata's content can tell.
func rewriteMetadata(t *testing.T, f *fixture, hash string, change func(*identity.Metadata)) {
	t.Helper()
	p := filepath.Join(f.bucket.Path, hash, MetadataFile)
	var meta identity.Metadata
	b, _ := os.ReadFile(p)
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	change(&meta)
	if err := WriteJSON(p, meta); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(p)
	m := readManifestFile(t, f, hash)
	for i := range m.Files {
		if m.Files[i].Path == MetadataFile {
			sum := sha256.Sum256(b)
			m.Files[i].Size, m.Files[i].SHA256 = int64(len(b)), hex.EncodeToString(sum[:])
		}
	}
	writeManifestFile(t, f, hash, m)
}

func readManifestFile(t *testing.T, f *fixture, hash string) Manifest {
	t.Helper()
	var m Manifest
	b, err := os.ReadFile(filepath.Join(f.bucket.Path, hash, ManifestFile))
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func writeManifestFile(t *testing.T, f *fixture, hash string, m Manifest) {
	t.Helper()
	if err := WriteJSON(filepath.Join(f.bucket.Path, hash, ManifestFile), m); err != nil {
		t.Fatal(err)
	}
}
