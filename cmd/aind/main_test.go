package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/clitest"
)

func TestPicksTheToolByNameOrArgument(t *testing.T) {
	bins, cleanup := clitest.Build(".")
	defer cleanup()
	dir := t.TempDir()
	for _, link := range []string{"aind-dispatch", "aind-wrapper"} {
		if err := os.Symlink(bins["aind"], filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		bin  string
		args []string
		code int
		want string
	}{
		{"dispatch by link", filepath.Join(dir, "aind-dispatch"), []string{"--help"}, 0, "--file_extension"},
		{"wrapper by link", filepath.Join(dir, "aind-wrapper"), []string{"run", "--help"}, 0, "--dry_run"},
		{"wrapper version", filepath.Join(dir, "aind-wrapper"), []string{"--version"}, 0, "dev"},
		{"dispatch by argument", bins["aind"], []string{"dispatch", "--help"}, 0, "--group_by"},
		{"unknown", bins["aind"], []string{"frobnicate"}, 2, "Usage: aind"},
		{"help", bins["aind"], []string{"--help"}, 0, "Usage: aind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := clitest.Run(t, tt.bin, nil, tt.args...)
			if r.Code != tt.code || !strings.Contains(r.Stdout+r.Stderr, tt.want) {
				t.Fatalf("exit %d (want %d), output lacks %q:\n%s%s", r.Code, tt.code, tt.want, r.Stdout, r.Stderr)
			}
		})
	}
}
