package identity

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestResolveVersion(t *testing.T) {
	tests := []struct {
		name     string
		in       VersionSources
		want     string
		wantNote bool
	}{
		{"only patch commits since release", VersionSources{Release: "v1.2.0", Commits: []string{"c2", "c1"}, PatchCommits: []string{"c1", "c2"}}, "v1.2.0", false},
		{"a real change since release", VersionSources{Release: "v1.2.0", Commits: []string{"c2", "c1"}, PatchCommits: []string{"c2"}}, "c2", true},
		{"commit list wins over explicit", VersionSources{Explicit: "x", Release: "v1", Commits: []string{"c9"}}, "c9", true},
		{"explicit", VersionSources{Explicit: "2.0.0", ImageRevision: "abc"}, "2.0.0", false},
		{"release without commits", VersionSources{Release: "v3"}, "v3", false},
		{"image revision last", VersionSources{ImageRevision: "abc123"}, "abc123", false},
		{"nothing", VersionSources{}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, note := ResolveVersion(tt.in)
			if got != tt.want || (note != "") != tt.wantNote {
				t.Fatalf("ResolveVersion = %q, %q; want %q (note %v)", got, note, tt.want, tt.wantNote)
			}
			if tt.wantNote && !strings.Contains(note, got) {
				t.Fatalf("note %q does not name the commit", note)
			}
		})
	}
}

func TestNewMetadataShape(t *testing.T) {
	zone := time.FixedZone("PDT", -7*3600)
	code := NewCode(CodeInfo{URL: "u", Version: "1"}, map[string]any{"a": 1}, []string{"s3://b/x"})
	h, _ := code.Hash()
	pipe := Code{ObjectType: ObjectTypeCode, CodeInfo: CodeInfo{URL: "p", Name: "pipe"}}
	m := NewMetadata(Run{Code: code, Hash: h, Location: "s3://r/" + h, Experimenters: []string{"a@b.org"},
		Start: time.Date(2026, 1, 2, 3, 4, 5, 0, zone), End: time.Date(2026, 1, 2, 3, 5, 5, 0, zone),
		Outputs: map[string]any{"n": 3}, PipelineName: "pipe", Pipeline: &pipe})
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	_ = json.Unmarshal(b, &doc)
	proc := doc["processing"].(map[string]any)
	dp := proc["data_processes"].([]any)[0].(map[string]any)
	checks := map[string]any{
		"object_type":                 doc["object_type"],
		"name":                        doc["name"],
		"processing.object_type":      proc["object_type"],
		"data_process.object_type":    dp["object_type"],
		"process_type":                dp["process_type"],
		"stage":                       dp["stage"],
		"code.object_type":            dp["code"].(map[string]any)["object_type"],
		"input_data[0].object_type":   dp["code"].(map[string]any)["input_data"].([]any)[0].(map[string]any)["object_type"],
		"start_date_time":             dp["start_date_time"],
		"pipeline_name":               dp["pipeline_name"],
		"pipelines[0].name":           proc["pipelines"].([]any)[0].(map[string]any)["name"],
		"output_parameters.n":         dp["output_parameters"].(map[string]any)["n"],
		"experimenters[0]":            dp["experimenters"].([]any)[0],
		"location":                    doc["location"],
		"data_process.output_path":    dp["output_path"],
		"data_process.name":           dp["name"],
		"created has zone (end time)": doc["created"],
	}
	want := map[string]any{
		"object_type": "Metadata", "name": h, "processing.object_type": "Processing", "data_process.object_type": "Data process",
		"process_type": "Analysis", "stage": "Analysis", "code.object_type": "Code", "input_data[0].object_type": "Data asset",
		"start_date_time": "2026-01-02T03:04:05-07:00", "pipeline_name": "pipe", "pipelines[0].name": "pipe",
		"output_parameters.n": float64(3), "experimenters[0]": "a@b.org", "location": "s3://r/" + h,
		"data_process.output_path": "s3://r/" + h, "created has zone (end time)": "2026-01-02T03:05:05-07:00",
		"data_process.name": "u",
	}
	for k, w := range want {
		if checks[k] != w {
			t.Errorf("%s = %v, want %v", k, checks[k], w)
		}
	}
}
