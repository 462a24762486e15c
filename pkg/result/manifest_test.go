package result

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

func TestManifestCheck(t *testing.T) {
	m := Manifest{Hash: "h", Files: []ManifestEntry{{Path: "a.txt", Size: 3}, {Path: "sub/b.png", Size: 10}}}
	listing := func(edit func(map[string]int64)) map[string]int64 {
		l := map[string]int64{"a.txt": 3, "sub/b.png": 10, ManifestFile: 120}
		if edit != nil {
			edit(l)
		}
		return l
	}
	withPath := func(p string) Manifest {
		return Manifest{Hash: "h", Files: []ManifestEntry{{Path: "a.txt", Size: 3}, {Path: p, Size: 1}}}
	}
	tests := []struct {
		name      string
		m         Manifest
		listing   map[string]int64
		wantErr   string // "" for none
		transient bool
	}{
		{"complete", m, listing(nil), "", false},
		{"empty result", Manifest{Hash: "h"}, map[string]int64{ManifestFile: 40}, "", false},
		{"missing file", m, listing(func(l map[string]int64) { delete(l, "sub/b.png") }), "sub/b.png missing after upload", false},
		{"size mismatch", m, listing(func(l map[string]int64) { l["a.txt"] = 2 }), "a.txt has 2 bytes, uploaded 3", false},
		{"empty file listed as larger", Manifest{Hash: "h", Files: []ManifestEntry{{Path: "e", Size: 0}}}, map[string]int64{"e": 1, ManifestFile: 1}, "e has 1 bytes, uploaded 0", false},
		{"manifest missing", m, listing(func(l map[string]int64) { delete(l, ManifestFile) }), "manifest.json missing after upload", false},
		{"extra file", m, listing(func(l map[string]int64) { l["z.txt"] = 1; l["c.txt"] = 1 }), "c.txt is not in the manifest (2 objects in all)", true},
		{"bad path: parent", withPath("../x"), listing(nil), "files[1].path: unsafe", false},
		{"bad path: absolute", withPath("/etc/x"), listing(nil), "files[1].path: unsafe", false},
		{"bad path: empty", withPath(""), listing(nil), "files[1].path: unsafe", false},
		{"bad path: backslash", withPath(`a\b`), listing(nil), "files[1].path: unsafe", false},
		{"bad path: dot segment", withPath("sub/./b"), listing(nil), "files[1].path: unsafe", false},
		{"bad path: the manifest itself", withPath(ManifestFile), listing(nil), "cannot list itself", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.m.Check(tt.listing)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Check: %v, want %q", err, tt.wantErr)
			}
			if fault.IsTransient(err) != tt.transient {
				t.Errorf("transient = %v, want %v (%v)", fault.IsTransient(err), tt.transient, err)
			}
		})
	}
}

func TestReadManifest(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		content string // "" for no manifest
		wantErr string
	}{
		{"good", `{"hash": "h", "files": [{"path": "a/b.txt", "size": 1, "sha256": "x"}]}`, ""},
		{"missing", "", "has no manifest.json"},
		{"not JSON", `{"files": [`, "reading"},
		{"bad path", `{"hash": "h", "files": [{"path": "../../etc/passwd", "size": 1}]}`, "files[0].path: unsafe as a local path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.content != "" {
				if err := os.WriteFile(filepath.Join(dir, ManifestFile), []byte(tt.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			loc, err := storage.Parse(dir)
			if err != nil {
				t.Fatal(err)
			}
			m, err := ReadManifest(ctx, storage.NewLocal(), loc)
			if tt.wantErr == "" {
				if err != nil || len(m.Files) != 1 || m.Files[0].Path != "a/b.txt" {
					t.Fatalf("ReadManifest = %+v, %v", m, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || fault.IsTransient(err) {
				t.Fatalf("ReadManifest: %v, want a permanent error with %q", err, tt.wantErr)
			}
		})
	}
}
