package storage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

func TestLocalConformance(t *testing.T) {
	runConformance(t, NewLocal(), MustParse(t.TempDir()))
}

func TestLocalConformanceFileURL(t *testing.T) {
	runConformance(t, NewLocal(), MustParse("file://"+filepath.ToSlash(t.TempDir())))
}

func TestLocalConformanceRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	runConformance(t, NewLocal(), MustParse("results"))
}

func TestRouterConformanceLocal(t *testing.T) {
	// No AWS configuration at all: a local-only run must not need it.
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	r, err := New(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	runConformance(t, r, MustParse(t.TempDir()))
	if r.s3 != nil {
		t.Fatal("Router created an S3 client for local URLs")
	}
}

func TestLocalListSkipsTempFilesAndFollowsLinks(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "data", "a.txt"), "a")
	mustWrite(t, filepath.Join(dir, "data", tempPrefix+"123"), "partial")
	mustWrite(t, filepath.Join(dir, "elsewhere", "b.txt"), "b")
	if err := os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(dir, "data", "linked")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "data"), filepath.Join(dir, "data", "loop")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "data", "dangling")); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := NewLocal().List(ctx, MustParse(filepath.Join(dir, "data")), func(o Object) error {
		got = append(got, o.Rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if g := strings.Join(got, " "); g != "a.txt linked/b.txt" {
		t.Fatalf("List = %q, want [a.txt linked/b.txt]", got)
	}
}

func TestLocalRejectsS3URL(t *testing.T) {
	_, err := NewLocal().Stat(t.Context(), MustParse("s3://b/k"))
	if err == nil || fault.IsTransient(err) || IsNotFound(err) {
		t.Fatalf("Stat of an s3 URL on Local: %v", err)
	}
}

func TestLocalPutLeavesNoTempFiles(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	u := MustParse(filepath.Join(dir, "x"))
	for range 2 {
		_ = NewLocal().Put(ctx, u, strings.NewReader("x"), PutOptions{IfNotExists: true})
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "x" {
		t.Fatalf("directory holds %v, want only x", entries)
	}
	info, err := os.Stat(u.Path)
	if err != nil || info.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, %v; want 0644", info.Mode(), err)
	}
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
