package result

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestMarkerNames(t *testing.T) {
	// A job's stem comes back from its marker's name, whatever the stem looks like.
	for _, job := range []string{"job_1", "skip_x", "failed_y", ""} {
		if got, failed, ok := ParseMarker(SkipMarker(job)); got != job || failed || !ok {
			t.Errorf("ParseMarker(SkipMarker(%q)) = %q, failed %v, ok %v", job, got, failed, ok)
		}
		if got, failed, ok := ParseMarker(FailedMarker(job)); got != job || !failed || !ok {
			t.Errorf("ParseMarker(FailedMarker(%q)) = %q, failed %v, ok %v", job, got, failed, ok)
		}
	}
	for _, name := range []string{"job_1.json", "abc123", "skip", ManifestFile} {
		if _, _, ok := ParseMarker(name); ok {
			t.Errorf("ParseMarker(%q) took it for a marker", name)
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
