package job

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/golden"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
)

func TestParseLegacyAssetID(t *testing.T) {
	data, err := os.ReadFile("testdata/legacy_asset_id.json")
	if err != nil {
		t.Fatal(err)
	}
	j, err := Parse(data, "legacy_asset_id.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(j.DocDBRecordID) != 1 || j.DocDBRecordID[0] != "50fa9416-4e21-482f-8901-889322a87ae3" {
		t.Fatalf("asset_id not read as docdb_record_id: %v", j.DocDBRecordID)
	}
	out, err := j.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "asset_id") {
		t.Fatalf("legacy field written back: %s", out)
	}
	golden.Check(t, "legacy_asset_id.current.golden.json", out)
}

func TestParseErrorsNameFileAndField(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"not json", `{`, "invalid JSON"},
		{"no locations", `{"docdb_record_id":["a"]}`, `"s3_location"`},
		{"empty location", `{"s3_location":[""],"docdb_record_id":["a"]}`, `"s3_location"[0]`},
		{"no record ids", `{"s3_location":["s3://b/a"]}`, `"docdb_record_id"`},
		{"wrong type", `{"s3_location":"s3://b/a","docdb_record_id":["a"]}`, `field "s3_location"`},
		{"length mismatch", `{"s3_location":["s3://b/a"],"docdb_record_id":["a","b"]}`, `"docdb_record_id": has 2 entries`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.content), "/data/job_dict/x.json")
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), "/data/job_dict/x.json") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not name the file and %s", err, tt.want)
			}
			if !fault.IsUsage(err) {
				t.Fatalf("error not classified as usage: %v", err)
			}
		})
	}
}

func sample() Job {
	q := `{"subject.subject_id":"774659"}`
	return Job{
		S3Location:            []string{"s3://b/a1", "s3://b/a2"},
		AssetName:             []string{"a1", "a2"},
		DocDBRecordID:         []string{"id1", "id2"},
		DistributedParameters: map[string]any{"cutoff": 0.05},
		GroupMetadata:         map[string]any{"subject__subject_id": "774659"},
		Query:                 &q,
	}
}

func TestMarshalGolden(t *testing.T) {
	out, err := sample().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "grouped.golden.json", out)
}

func TestFileNameDeterministic(t *testing.T) {
	a, err := sample().FileName()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := sample().FileName()
	if a != b || !strings.HasPrefix(a, "job_") || !strings.HasSuffix(a, ".json") || len(a) != len("job_")+20+len(".json") {
		t.Fatalf("file names %q %q", a, b)
	}
	other := sample()
	other.DistributedParameters = map[string]any{"cutoff": 0.5}
	c, _ := other.FileName()
	if c == a {
		t.Fatalf("different jobs share file name %s", a)
	}
}

// TestEncodeIsFileNameAndMarshal: the one-pass Encode (behind FileName and Marshal) gives
// exactly the name from identity.Hash of the job and the bytes of json.MarshalIndent, for a
// job with every kind of field, a sparse one and one with escapes and numbers that JSON
// re-encoding could change.
func TestEncodeIsFileNameAndMarshal(t *testing.T) {
	sparse := Job{S3Location: []string{"s3://b/x"}}
	odd := sample()
	odd.DistributedParameters = map[string]any{"a<b>&": "é\u2028", "n": 1e21, "f": 0.1, "big": int64(1) << 60, "nil": nil}
	odd.FileLocation = []string{"s3://b/a1/x.nwb", "s3://b/a2/y.nwb"}
	for _, j := range []Job{sample(), sparse, odd} {
		name, data, err := j.Encode()
		if err != nil {
			t.Fatal(err)
		}
		h, err := identity.Hash(j)
		if err != nil {
			t.Fatal(err)
		}
		wantName := "job_" + h[:20] + ".json"
		indented, err := json.MarshalIndent(j, "", "    ")
		if err != nil {
			t.Fatal(err)
		}
		wantData := append(indented, '\n')
		if name != wantName || string(data) != string(wantData) {
			t.Fatalf("Encode gave %s\n%s\nwant %s\n%s", name, data, wantName, wantData)
		}
		if n, _ := j.FileName(); n != name {
			t.Fatalf("FileName() = %s, Encode's name %s", n, name)
		}
		if d, _ := j.Marshal(); string(d) != string(data) {
			t.Fatalf("Marshal() = %s, Encode's content %s", d, data)
		}
	}
}

func TestCodeTracksFileLocation(t *testing.T) {
	j := sample()
	info := identity.CodeInfo{URL: "u", Version: "1"}
	params := map[string]any{"cutoff": 0.05}
	h0, _ := j.Code(info, params).Hash()
	j.FileLocation = []string{"s3://b/a1/x.nwb"}
	c := j.Code(info, params)
	if _, ok := params["file_location"]; ok {
		t.Fatal("Code changed the caller's parameters")
	}
	if got := c.Parameters["file_location"]; got == nil {
		t.Fatal("file_location not tracked as a parameter")
	}
	if h1, _ := c.Hash(); h1 == h0 {
		t.Fatal("matched files do not change identity")
	}
}

func TestReadDir(t *testing.T) {
	dir := t.TempDir()
	j := sample()
	out, _ := j.Marshal()
	name, _ := j.FileName()
	must(t, os.WriteFile(filepath.Join(dir, name), out, 0o644))
	legacy, _ := os.ReadFile("testdata/legacy_asset_id.json")
	must(t, os.WriteFile(filepath.Join(dir, "a_legacy.json"), legacy, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "NO_JOBS.txt"), []byte("nothing"), 0o644))
	files, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || filepath.Base(files[0].Path) != "a_legacy.json" {
		t.Fatalf("ReadDir = %+v", files)
	}
	if Stem(files[1].Path) != strings.TrimSuffix(name, ".json") {
		t.Fatalf("Stem(%s) = %s", files[1].Path, Stem(files[1].Path))
	}
	must(t, os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"s3_location":[]}`), 0o644))
	if _, err := ReadDir(dir); err == nil || !strings.Contains(err.Error(), "bad.json") {
		t.Fatalf("bad job file not reported by name: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	legacy, _ := os.ReadFile("testdata/legacy_asset_id.json")
	f.Add(legacy)
	f.Add([]byte(`{"s3_location":["s3://b/a"],"docdb_record_id":["x"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := Parse(data, "fuzz.json")
		if err != nil {
			return
		}
		out, err := j.Marshal()
		if err != nil {
			t.Fatalf("valid job does not marshal: %v", err)
		}
		if _, err := Parse(out, "again.json"); err != nil {
			t.Fatalf("marshalled job does not parse back: %v\n%s", err, out)
		}
	})
}

// Code Ocean's generated pipeline stages each dispatcher output as the job folder, so an
// empty dispatch's placeholder arrives as the folder itself: no jobs, not an error.
func TestReadDirOfThePlaceholder(t *testing.T) {
	dir := t.TempDir()
	note := filepath.Join(dir, "job_dict")
	if err := os.WriteFile(note, []byte(NoJobsNote+": no DocDB record matched the query.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := ReadDir(note)
	if err != nil || len(files) != 0 {
		t.Fatalf("ReadDir(placeholder) = %v, %v; want no jobs", files, err)
	}
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, []byte("something else"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadDir(other); err == nil {
		t.Fatal("ReadDir of a file that is not the placeholder succeeded")
	}
}
