package results

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/result"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// tree lists every file under dir, relative to it.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

// TestGetKeepsNamesFromDataInside: a record's _id and a manifest's paths are data; Get
// refuses any that would put a file outside <dest>/<hash>/, naming the record or manifest
// and the field, and writes nothing.
func TestGetKeepsNamesFromDataInside(t *testing.T) {
	tests := []struct {
		name     string
		hash     string
		manifest []string // file paths the manifest lists
		wantErr  []string
	}{
		{"_id climbing out", "../../x", []string{"a.txt"}, []string{`result record "../../x"`, "field _id"}},
		{"_id dot dot", "..", []string{"a.txt"}, []string{`result record ".."`, "field _id"}},
		{"_id absolute", "/tmp/x", []string{"a.txt"}, []string{"field _id"}},
		{"_id empty", "", []string{"a.txt"}, []string{"field _id"}},
		{"manifest path climbing out", "h1", []string{"../../y.txt"}, []string{"result h1", "manifest.json: files[0].path", `"../../y.txt"`}},
		{"manifest path absolute", "h1", []string{"/tmp/y.txt"}, []string{"files[0].path"}},
		{"manifest path with dot dot inside", "h1", []string{"a/../../y.txt"}, []string{"files[0].path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A local "bucket": <root>/bucket/src holds the result; dest is <root>/a/b/dest,
			// so a climbing name has somewhere to land inside root.
			root := t.TempDir()
			src := filepath.Join(root, "bucket", "src")
			m := result.Manifest{Hash: tt.hash}
			for _, p := range tt.manifest {
				m.Files = append(m.Files, result.ManifestEntry{Path: p, Size: 5, SHA256: sha("hello")})
				f := filepath.Join(src, filepath.FromSlash(p))
				if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(f, []byte("hello"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b, _ := json.Marshal(m)
			if err := os.MkdirAll(src, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(src, result.ManifestFile), b, 0o644); err != nil {
				t.Fatal(err)
			}
			dest := filepath.Join(root, "a", "b", "dest")
			if err := os.MkdirAll(dest, 0o755); err != nil {
				t.Fatal(err)
			}
			before := tree(t, root)
			err := Get(context.Background(), storage.NewLocal(), []Download{{Hash: tt.hash, Location: storage.MustParse(src)}}, GetOptions{Dest: dest})
			if err == nil {
				t.Fatalf("Get accepted it; files now %q", tree(t, root))
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if after := tree(t, root); strings.Join(after, ",") != strings.Join(before, ",") {
				t.Errorf("files written: before %q, after %q", before, after)
			}
		})
	}
}

// listing is a Reader whose List returns the given relative names, as an S3 listing of
// arbitrary keys can.
type listing []string

func (l listing) List(_ context.Context, prefix storage.URL, fn func(storage.Object) error) error {
	for _, rel := range l {
		u := prefix
		u.Key += "/" + rel
		if err := fn(storage.Object{URL: u, Rel: rel}); err != nil {
			return err
		}
	}
	return nil
}

func (l listing) Open(context.Context, storage.URL) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("{}")), nil
}

func TestLoadRunRefusesUnsafeFolderNames(t *testing.T) {
	for _, rel := range []string{"../metadata.nd.json/x", "./x/metadata.nd.json", "/metadata.nd.json", `..\x/error.txt`} {
		t.Run(rel, func(t *testing.T) {
			_, err := LoadRun(context.Background(), listing{rel}, storage.MustParse("s3://b/run"))
			if err == nil || !strings.Contains(err.Error(), "result folder name") || !strings.Contains(err.Error(), "s3://b/run") {
				t.Fatalf("err %v, want one naming the run folder, the object and the folder name", err)
			}
		})
	}
}
