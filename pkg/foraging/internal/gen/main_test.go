package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestRegeneratesSeedExactly runs the generator on a copy of the real trial tables and
// compares every file it writes with the committed ones: the data is reproducible.
func TestRegeneratesSeedExactly(t *testing.T) {
	repo := filepath.Join("..", "..", "..", "..")
	root := t.TempDir()
	src := filepath.Join(repo, "testdata", "foraging", "816886")
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(repo, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(root, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := run(root); err != nil {
		t.Fatal(err)
	}
	n := 0
	err = filepath.Walk(filepath.Join(root, "testdata"), func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		got, _ := os.ReadFile(p)
		want, err := os.ReadFile(filepath.Join(repo, rel))
		if err != nil {
			t.Errorf("%s: generated but not committed (%v): run go run ./pkg/foraging/internal/gen", rel, err)
			return nil
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the committed file: run go run ./pkg/foraging/internal/gen", rel)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 15 {
		t.Errorf("compared %d files, want every table, the records and the implied slopes", n)
	}
}
