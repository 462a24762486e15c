package result

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestMarkerNames(t *testing.T) {
	tests := []struct {
		name       string
		wantJob    string
		wantFailed bool
		wantOK     bool
	}{
		{SkipMarker("job_1"), "job_1", false, true},
		{FailedMarker("job_1"), "job_1", true, true},
		{FailedMarker(SkipMarker("x")), "skip_x", true, true},
		{"job_1.json", "", false, false},
		{"abc123", "", false, false},
	}
	for _, tt := range tests {
		job, failed, ok := ParseMarker(tt.name)
		if job != tt.wantJob || failed != tt.wantFailed || ok != tt.wantOK {
			t.Errorf("ParseMarker(%q) = %q, %v, %v; want %q, %v, %v", tt.name, job, failed, ok, tt.wantJob, tt.wantFailed, tt.wantOK)
		}
	}
}

func TestWriteJSONIsIndentedAndWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), SkipMarker("job_1"))
	m := Marker{Job: "job_1", Status: "skipped", Reason: "recorded", Time: "2026-01-01T00:00:00Z"}
	if err := WriteJSON(path, m); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"job\": \"job_1\",\n  \"status\": \"skipped\",\n  \"reason\": \"recorded\",\n  \"time\": \"2026-01-01T00:00:00Z\"\n}\n"
	if string(b) != want {
		t.Fatalf("marker file:\n%s\nwant (no hash when unknown):\n%s", b, want)
	}
	var back Marker
	if err := json.Unmarshal(b, &back); err != nil || back != m {
		t.Fatalf("read back %+v, %v", back, err)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}
	if err := WriteJSON(filepath.Join(t.TempDir(), "missing", "x.json"), m); err == nil {
		t.Error("writing into a missing folder succeeded")
	}
}
