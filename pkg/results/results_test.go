package results

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/golden"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/docdb"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/result"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

func TestParseParam(t *testing.T) {
	tests := []struct {
		name, in string
		key      string
		want     any
	}{
		{"integer", "window=10", "window", json.Number("10")},
		{"float", "cutoff=0.25", "cutoff", json.Number("0.25")},
		{"boolean", "smooth=true", "smooth", true},
		{"quoted number is a string", `window="10"`, "window", "10"},
		{"bare string", "tag=abc", "tag", "abc"},
		{"string with spaces", "tag=a b", "tag", "a b"},
		{"value with =", "expr=a=b", "expr", "a=b"},
		{"empty value", "tag=", "tag", ""},
		{"number then junk is a string", "v=1 2", "v", "1 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, v, err := ParseParam(tt.in)
			if err != nil || k != tt.key || v != tt.want {
				t.Fatalf("ParseParam(%q) = %q, %#v, %v; want %q, %#v", tt.in, k, v, err, tt.key, tt.want)
			}
		})
	}
	if _, _, err := ParseParam("novalue"); !fault.IsUsage(err) {
		t.Fatalf("no '=': %v, want a usage error", err)
	}
}

func TestFilterMongo(t *testing.T) {
	f := Filter{
		Hashes: []string{"h1"}, AnalysisName: "n", AnalysisTag: "t",
		Params:  map[string]any{"window": json.Number("10"), "cutoff": json.Number("0.5"), "smooth": false, "tag": "x"},
		CodeURL: "https://example.org/a", CodeName: "a", CodeVersions: []string{"1", "2"},
		Inputs:       []string{"s3://b/asset"},
		CreatedAfter: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), CreatedBefore: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
	}
	b, err := bson.MarshalExtJSONIndent(f.Mongo(), false, false, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "filter.json", append(b, '\n'))
	if len(Filter{}.Mongo()) != 0 {
		t.Fatal("empty filter is not {}")
	}
}

func TestFilterMatchTimeExactly(t *testing.T) {
	after := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	f := Filter{CreatedAfter: after, CreatedBefore: after.Add(time.Hour)}
	tests := []struct {
		created string
		want    bool
	}{
		{"2026-01-02T12:00:00Z", true},
		{"2026-01-02T11:59:59.9Z", false},
		{"2026-01-02T13:30:00+01:00", true}, // 12:30 UTC
		{"2026-01-02T13:00:00.000000001Z", false},
		{"", false},
	}
	for _, tt := range tests {
		r := result.Record{Metadata: identity.Metadata{Created: tt.created}}
		if got := f.Match(r); got != tt.want {
			t.Errorf("Match(created %q) = %v, want %v", tt.created, got, tt.want)
		}
	}
}

// rec makes a record of code version v, created at minute m, with parameter cutoff.
func rec(id, version string, minute int, cutoff float64, input string) result.Record {
	code := identity.NewCode(identity.CodeInfo{URL: "u", Name: "a", Version: version}, map[string]any{"cutoff": cutoff}, []string{input})
	return result.Record{ID: id, Metadata: identity.NewMetadata(identity.Run{
		Code: code, Hash: id, Start: time.Date(2026, 1, 1, 0, minute, 0, 0, time.UTC),
		End: time.Date(2026, 1, 1, 0, minute, 1, 0, time.UTC), Outputs: map[string]any{"n": minute, "s": map[string]any{"m": 1.5}},
	})}
}

func TestLatest(t *testing.T) {
	recs := []result.Record{
		rec("a1", "1", 1, 0.5, "s3://b/x"),
		rec("b1", "1", 2, 0.7, "s3://b/x"),
		rec("a2", "2", 3, 0.5, "s3://b/x"), // same work as a1 in a newer version
		rec("c1", "1", 4, 0.5, "s3://b/y"), // other input
	}
	var got []string
	for _, r := range Latest(recs) {
		got = append(got, r.ID)
	}
	if strings.Join(got, ",") != "b1,a2,c1" {
		t.Fatalf("Latest = %v, want b1,a2,c1", got)
	}
}

// fakeFinder serves records from memory, ignoring the filter, as a second RecordFinder.
type fakeFinder struct {
	docs   []result.Record
	filter any
}

func (f *fakeFinder) Find(ctx context.Context, filter any, o docdb.FindOptions, fn func(bson.Raw) error) error {
	f.filter = filter
	for _, r := range f.docs {
		b, _ := json.Marshal(r)
		var doc bson.D
		if err := bson.UnmarshalExtJSON(b, false, &doc); err != nil {
			return err
		}
		raw, _ := bson.Marshal(doc)
		if err := fn(raw); err != nil {
			return err
		}
	}
	return nil
}

func TestQueryAndTable(t *testing.T) {
	f := &fakeFinder{docs: []result.Record{rec("b1", "1", 2, 0.7, "s3://b/x"), rec("a1", "1", 1, 0.5, "s3://b/x"), rec("a2", "2", 3, 0.5, "s3://b/x")}}
	recs, err := Query(context.Background(), f, Filter{CodeName: "a"}, true)
	if err != nil {
		t.Fatal(err)
	}
	table, err := NewTable(recs, []string{ColHash, ColVersion, ColDuration, AllParams, AllOutputs})
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{FormatCSV, FormatTable, FormatJSONL} {
		var b bytes.Buffer
		if err := table.Write(&b, format); err != nil {
			t.Fatal(err)
		}
		golden.Check(t, "table."+format, b.Bytes())
	}
	if _, err := NewTable(recs, []string{"nope"}); !fault.IsUsage(err) {
		t.Fatalf("unknown column: %v", err)
	}
	if _, err := FindOne(context.Background(), &fakeFinder{}, "zz"); err == nil || !strings.Contains(err.Error(), "no result record with hash zz") {
		t.Fatalf("FindOne of a missing hash: %v", err)
	}
}

// jobCode is the Code block of a job and its identity, as the wrapper computes them.
func jobCode(t *testing.T, cutoff float64) (identity.Code, string) {
	t.Helper()
	code := identity.NewCode(identity.CodeInfo{URL: "https://example.org/analysis", Name: "analysis", Version: "1.0.0"},
		map[string]any{"cutoff": cutoff}, []string{"s3://inputs/asset1"})
	h, err := code.Hash()
	if err != nil {
		t.Fatal(err)
	}
	return code, h
}

// writeResult writes a published result of the job code (identity hash) into dir/<hash>:
// files, a metadata.nd.json as the wrapper writes it, and a manifest of them all.
func writeResult(t *testing.T, dir string, code identity.Code, hash string, files map[string]string) {
	t.Helper()
	loc := storage.MustParse(filepath.Join(dir, hash))
	meta := identity.NewMetadata(identity.Run{Code: code, Hash: hash, Location: loc.String(), Start: time.Now(), End: time.Now()})
	b, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	files[result.MetadataFile] = string(b)
	m := result.Manifest{Hash: hash}
	for name, content := range files {
		p := filepath.Join(dir, hash, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		m.Files = append(m.Files, result.ManifestEntry{Path: name, Size: int64(len(content)), SHA256: sha(content)})
	}
	writeManifest(t, filepath.Join(dir, hash), m)
}

func writeManifest(t *testing.T, dir string, m result.Manifest) {
	t.Helper()
	b, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, result.ManifestFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGet: a result is downloaded only when it is its manifest's and its job's: any file
// that does not match, a manifest for another hash, metadata of another job fail naming
// the result and the object (and field), and leave nothing in dest.
func TestGet(t *testing.T) {
	code, h := jobCode(t, 0.5)
	otherCode, other := jobCode(t, 0.25)
	src := t.TempDir()
	dir := filepath.Join(src, h)
	files := func() map[string]string { return map[string]string{"a.txt": "hello", "sub/b.txt": "world"} }
	store := storage.NewLocal()
	tests := []struct {
		name    string
		corrupt func()
		wantErr string
	}{
		{"verified", func() {}, ""},
		{"same size, other bytes", func() { os.WriteFile(filepath.Join(dir, "a.txt"), []byte("HELLO"), 0o644) }, h + "/a.txt: sha256"},
		{"truncated", func() { os.WriteFile(filepath.Join(dir, "sub", "b.txt"), []byte("w"), 0o644) }, h + "/sub/b.txt: 1 bytes, the manifest says 5"},
		{"missing file", func() { os.Remove(filepath.Join(dir, "a.txt")) }, h + "/a.txt: listed in the manifest but missing"},
		{"no manifest", func() { os.Remove(filepath.Join(dir, result.ManifestFile)) }, "has no manifest.json"},
		{"manifest for another hash", func() {
			var m result.Manifest
			b, _ := os.ReadFile(filepath.Join(dir, result.ManifestFile))
			_ = json.Unmarshal(b, &m)
			m.Hash = other
			writeManifest(t, dir, m)
		}, h + "/manifest.json: hash is \"" + other + "\", not " + h},
		{"another job's result under the hash, its manifest's hash rewritten", func() {
			os.RemoveAll(dir)
			writeResult(t, src, otherCode, other, files())
			if err := os.Rename(filepath.Join(src, other), dir); err != nil {
				t.Fatal(err)
			}
			var m result.Manifest
			b, _ := os.ReadFile(filepath.Join(dir, result.ManifestFile))
			_ = json.Unmarshal(b, &m)
			m.Hash = h
			writeManifest(t, dir, m)
		}, h + "/metadata.nd.json describes job " + other + ", not " + h},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.RemoveAll(dir)
			writeResult(t, src, code, h, files())
			tt.corrupt()
			dest := t.TempDir()
			err := Get(context.Background(), store, []Download{{Hash: h, Location: storage.MustParse(dir)}}, GetOptions{Dest: dest, Concurrency: 2})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if b, _ := os.ReadFile(filepath.Join(dest, h, "sub", "b.txt")); string(b) != "world" {
					t.Fatalf("sub/b.txt = %q", b)
				}
				// Readable as any file or folder the user makes, not private like a temporary one.
				for _, p := range []string{"a.txt", "."} {
					want := os.FileMode(0o644)
					if p == "." {
						want = 0o755
					}
					if st, err := os.Stat(filepath.Join(dest, h, p)); err != nil || st.Mode().Perm() != want {
						t.Fatalf("%s mode %v (%v), want %v", p, st.Mode().Perm(), err, want)
					}
				}
				if got := tree(t, dest); len(got) != 4 {
					t.Fatalf("dest holds %v, want the result's 3 files and its manifest", got)
				}
				// Again, into the same dest: the result folder is replaced.
				if err := Get(context.Background(), store, []Download{{Hash: h, Location: storage.MustParse(dir)}}, GetOptions{Dest: dest}); err != nil {
					t.Fatal(err)
				}
				if got := tree(t, dest); len(got) != 4 {
					t.Fatalf("after a second get, dest holds %v", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "result "+h) {
				t.Fatalf("err %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(tt.wantErr, "sha256") && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err %v is not ErrCorrupt", err)
			}
			if code := fault.ExitCode(err); code != fault.ExitFailed {
				t.Fatalf("exit code %d, want %d", code, fault.ExitFailed)
			}
			// Nothing is left: no half-written result, no temporary folder.
			if entries, _ := os.ReadDir(dest); len(entries) != 0 {
				t.Fatalf("dest holds %v after a failed get", tree(t, dest))
			}
		})
	}
}
