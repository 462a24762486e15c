package params

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

func TestLoadReferenceExamples(t *testing.T) {
	f, err := Load("testdata/fixed_and_distributed.json")
	if err != nil {
		t.Fatal(err)
	}
	if f.Fixed["analysis_name"] != "Unit Quality Filtering" || len(f.Distributed) != 2 || f.Distributed[1]["method"] != "amplitude_cutoff" {
		t.Fatalf("parsed %+v", f)
	}
	if f.Fixed["isi_violations_cutoff"] != json.Number("0.05") {
		t.Fatalf("number not kept exactly: %#v", f.Fixed["isi_violations_cutoff"])
	}
}

func TestParseErrorsNameField(t *testing.T) {
	tests := []struct{ name, content, want string }{
		{"not json", `{`, "invalid JSON"},
		{"fixed not object", `{"fixed_parameters":[1]}`, `"fixed_parameters": must be an object`},
		{"distributed not list", `{"distributed_parameters":{"a":1}}`, `"distributed_parameters": must be a list`},
		{"distributed null entry", `{"distributed_parameters":[{"a":1},null]}`, `"distributed_parameters"[1]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), FileName)
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) || !fault.IsUsage(err) {
				t.Fatalf("error %v: want usage error naming %s and %s", err, path, tt.want)
			}
		})
	}
}

func TestLocate(t *testing.T) {
	dir := t.TempDir()
	if got := Locate(dir); got != "" {
		t.Fatalf("Locate(empty) = %q", got)
	}
	nested := filepath.Join(dir, "analysis_parameters", FileName)
	if err := os.MkdirAll(filepath.Dir(nested), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(nested, []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Locate(dir); got != nested {
		t.Fatalf("Locate = %q, want %q", got, nested)
	}
	top := filepath.Join(dir, FileName)
	if err := os.WriteFile(top, []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Locate(dir); got != top {
		t.Fatalf("Locate = %q, want top-level %q", got, top)
	}
}

func TestMergeOrderAndOverrides(t *testing.T) {
	f := File{Legacy: map[string]any{"a": 1, "b": 1}, Fixed: map[string]any{"b": 2, "c": 2}}
	layers := append(f.Layers(),
		Layer{Source: "command line", Values: map[string]any{"c": 3, "d": 3}},
		Layer{Source: "job distributed_parameters", Values: map[string]any{"d": 4, "a": 1}},
	)
	got, overrides := Merge(layers...)
	want := map[string]any{"a": 1, "b": 2, "c": 3, "d": 4}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Merge = %v, want %v", got, want)
	}
	wantOv := []Override{
		{Key: "b", Source: "fixed_parameters", Previous: "analysis_parameter", Old: 1, New: 2},
		{Key: "c", Source: "command line", Previous: "fixed_parameters", Old: 2, New: 3},
		{Key: "d", Source: "job distributed_parameters", Previous: "command line", Old: 3, New: 4},
	}
	if !reflect.DeepEqual(overrides, wantOv) {
		t.Fatalf("overrides = %+v, want %+v (an equal value is not an override)", overrides, wantOv)
	}
}
