package dispatch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// TestNewWriterNamesWhatTheOutputDirectoryHolds: an output directory that is not empty is
// refused with a message that quotes the entry found and says it is one ("it holds "0"",
// not "found 0", which reads as a count); hidden entries do not count.
func TestNewWriterNamesWhatTheOutputDirectoryHolds(t *testing.T) {
	tests := []struct {
		name  string
		dirs  []string // made inside the output directory
		files []string
		want  string // "" when the directory is accepted
	}{
		{"a task folder", []string{"0"}, nil, `is not empty (it holds "0")`},
		{"a file", nil, []string{"notes.txt"}, `is not empty (it holds "notes.txt")`},
		{"a name with a space", []string{"old run"}, nil, `is not empty (it holds "old run")`},
		{"only hidden entries", []string{".cache"}, []string{".DS_Store"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			for _, d := range tt.dirs {
				if err := os.Mkdir(filepath.Join(out, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range tt.files {
				if err := os.WriteFile(filepath.Join(out, f), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			w, err := newWriter(&dispatcher{opts: Options{OutputDir: out}})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("newWriter: %v", err)
				}
				w.abort()
				return
			}
			if err == nil {
				w.abort()
				t.Fatalf("newWriter accepted an output directory holding %v %v", tt.dirs, tt.files)
			}
			if !fault.IsUsage(err) || !strings.HasPrefix(err.Error(), "output directory "+out+" ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q: want a usage error naming %s and containing %q", err, out, tt.want)
			}
			if strings.Contains(err.Error(), "found ") {
				t.Fatalf("error %q still says \"found\"", err)
			}
		})
	}
}
