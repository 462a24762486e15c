package resultscmd_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/result"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/results"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// TestResults runs real wrapper jobs once, then checks every aind-results command on them.
func TestResults(t *testing.T) {
	w := newWorld(t)
	t.Run("query filters", func(t *testing.T) { testFilters(t, w) })
	t.Run("library query through the chosen DocDB backend", func(t *testing.T) {
		recs, err := results.Query(context.Background(), w.records, results.Filter{Params: map[string]any{"cutoff": json.Number("0.25")}}, true)
		if err != nil || len(recs) != 1 || recs[0].ID != w.hashA2 {
			t.Fatalf("latest of cutoff 0.25: %v, %v; want %s", ids(recs), err, w.hashA2)
		}
	})
	t.Run("csv loads back", func(t *testing.T) { testCSV(t, w) })
	t.Run("jsonl", func(t *testing.T) {
		r := w.run(t, "query", "--hash", w.hashB, "--format", "jsonl", "--columns", "hash,param.analysis_tag,output.n_bytes")
		mustOK(t, r, "query jsonl")
		var row map[string]string
		if err := json.Unmarshal([]byte(r.Stdout), &row); err != nil {
			t.Fatalf("%v: %q", err, r.Stdout)
		}
		want := map[string]string{"hash": w.hashB, "param.analysis_tag": "b", "output.n_bytes": "5"}
		if !mapsEqual(row, want) {
			t.Fatalf("row %v, want %v", row, want)
		}
	})
	t.Run("ls", func(t *testing.T) {
		r := w.run(t, "ls", w.hashB)
		mustOK(t, r, "ls")
		for _, f := range []string{"plot.png", "metadata.nd.json", "manifest.json", "outputs.json", "analysis.log", "total (5 files"} {
			if !strings.Contains(r.Stdout, f) {
				t.Fatalf("ls lacks %q:\n%s", f, r.Stdout)
			}
		}
	})
	t.Run("get", func(t *testing.T) { testGet(t, w) })
	t.Run("report", func(t *testing.T) { testReport(t, w) })
}

func ids(recs []result.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func testFilters(t *testing.T, w *world) {
	created := func(hash string) string {
		r := w.run(t, "query", "--hash", hash, "--columns", "created", "--format", "csv")
		mustOK(t, r, "created")
		return lines(r.Stdout)[1]
	}
	cA1, cB := created(w.hashA1), created(w.hashB)
	all := []string{w.hashA1, w.hashB, w.hashA2}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"everything", nil, all},
		{"analysis name", []string{"--analysis-name", "demo"}, all},
		{"analysis name no match", []string{"--analysis_name", "other"}, nil},
		{"analysis tag", []string{"--analysis-tag", "b"}, []string{w.hashB}},
		{"number param", []string{"--param", "cutoff=0.5"}, []string{w.hashB}},
		{"integer param from schema default", []string{"-p", "window=10"}, all},
		{"integer param as a string matches nothing", []string{"--param", `window="10"`}, nil},
		{"boolean param", []string{"--param", "smooth=false"}, all},
		{"boolean param no match", []string{"--param", "smooth=true"}, nil},
		{"string param", []string{"--param", "analysis_tag=b"}, []string{w.hashB}},
		{"two params", []string{"--param", "cutoff=0.25", "--param", "window=10"}, []string{w.hashA1, w.hashA2}},
		{"code url", []string{"--code-url", "https://example.org/analysis"}, all},
		{"code name", []string{"--code_name", "analysis"}, all},
		{"code version", []string{"--code-version", "2.0.0"}, []string{w.hashA2}},
		{"code versions", []string{"--code-version", "1.0.0,2.0.0"}, all},
		{"input location", []string{"--input", w.asset2}, []string{w.hashB}},
		{"input DocDB id", []string{"--input", "asset-1-id"}, []string{w.hashA1, w.hashA2}},
		{"since", []string{"--since", cB}, []string{w.hashB, w.hashA2}},
		{"until", []string{"--until", cA1}, []string{w.hashA1}},
		{"since and until", []string{"--since", cB, "--until", cB}, []string{w.hashB}},
		{"latest ignores version", []string{"--latest"}, []string{w.hashB, w.hashA2}},
		{"latest with filter", []string{"--latest", "--input", w.asset1}, []string{w.hashA2}},
		{"hash", []string{"--hash", w.hashB}, []string{w.hashB}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := w.run(t, append([]string{"query", "--format", "csv", "--columns", "hash"}, tt.args...)...)
			mustOK(t, r, "query")
			got := lines(r.Stdout)
			if len(got) == 0 || got[0] != "hash" {
				t.Fatalf("no header: %q", r.Stdout)
			}
			got = got[1:]
			want := slices.Clone(tt.want)
			if !slices.Equal(got, want) { // oldest first
				t.Fatalf("got %v\nwant %v\n(A1 %s, B %s, A2 %s)", got, want, w.hashA1[:8], w.hashB[:8], w.hashA2[:8])
			}
		})
	}
	t.Run("unknown asset id", func(t *testing.T) {
		r := w.run(t, "query", "--input", "no-such-asset")
		if r.Code != 2 || !strings.Contains(r.Stderr, "no-such-asset") {
			t.Fatalf("exit %d, stderr %q", r.Code, r.Stderr)
		}
	})
	t.Run("unknown column", func(t *testing.T) {
		r := w.run(t, "query", "--columns", "nope")
		if r.Code != 2 || !strings.Contains(r.Stderr, `unknown column "nope"`) {
			t.Fatalf("exit %d, stderr %q", r.Code, r.Stderr)
		}
	})
}

func testCSV(t *testing.T, w *world) {
	out := filepath.Join(t.TempDir(), "results.csv")
	r := w.run(t, "query", "--latest", "-o", out)
	mustOK(t, r, "query csv")
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := []string{"hash", "created", "code_name", "code_version", "inputs",
		"param.analysis_name", "param.analysis_tag", "param.cutoff", "param.file_location", "param.smooth", "param.window",
		"output.n_bytes", "output.score.mean"}
	if !slices.Equal(rows[0], wantHeader) {
		t.Fatalf("header %q\nwant   %q", rows[0], wantHeader)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows, want header + 2:\n%v", len(rows), rows)
	}
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	byHash := map[string][]string{rows[1][0]: rows[1], rows[2][0]: rows[2]}
	checks := []struct {
		hash, column, want string
	}{
		{w.hashA2, "code_version", "2.0.0"},
		{w.hashA2, "inputs", w.asset1},
		{w.hashA2, "param.cutoff", "0.25"},
		{w.hashA2, "param.window", "10"},
		{w.hashA2, "param.smooth", "false"},
		{w.hashA2, "param.analysis_tag", ""},
		{w.hashA2, "output.n_bytes", "10"},
		{w.hashA2, "output.score.mean", "2.5"},
		{w.hashA2, "param.file_location", `["` + w.asset1 + `/data.nwb"]`},
		{w.hashB, "code_version", "1.0.0"},
		{w.hashB, "param.analysis_tag", "b"},
		{w.hashB, "output.n_bytes", "5"},
		{w.hashB, "output.score.mean", "2.5"},
	}
	for _, c := range checks {
		row, ok := byHash[c.hash]
		if !ok {
			t.Fatalf("no row for %s in %v", c.hash, rows)
		}
		if got := row[col[c.column]]; got != c.want {
			t.Errorf("%s %s = %q, want %q", c.hash[:8], c.column, got, c.want)
		}
	}
}

func testGet(t *testing.T, w *world) {
	dest := t.TempDir()
	r := w.run(t, "get", w.hashB, "--dest", dest)
	mustOK(t, r, "get")
	if !strings.Contains(r.Stdout, w.hashB) {
		t.Fatalf("stdout %q", r.Stdout)
	}
	want, err := os.ReadFile(filepath.Join(w.run1Dir, w.hashB, "plot.png"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dest, w.hashB, "plot.png"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("downloaded plot differs (%v)", err)
	}
	for _, f := range []string{"metadata.nd.json", "outputs.json", "analysis.log", "manifest.json"} {
		if _, err := os.Stat(filepath.Join(dest, w.hashB, f)); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("by query", func(t *testing.T) {
		dest := t.TempDir()
		r := w.run(t, "get", "--input", w.asset1, "--latest", "-d", dest)
		mustOK(t, r, "get by query")
		entries, _ := os.ReadDir(dest)
		if len(entries) != 1 || entries[0].Name() != w.hashA2 {
			t.Fatalf("downloaded %v, want only %s", entries, w.hashA2)
		}
	})
	t.Run("no filter refused", func(t *testing.T) {
		if r := w.run(t, "get"); r.Code != 2 {
			t.Fatalf("exit %d: %s", r.Code, r.Stderr)
		}
	})
	t.Run("unknown hash", func(t *testing.T) {
		r := w.run(t, "get", "0000", "-d", t.TempDir())
		if r.Code != 2 || !strings.Contains(r.Stderr, "no result record for 0000") {
			t.Fatalf("exit %d: %s", r.Code, r.Stderr)
		}
	})
	t.Run("record _id that is not a folder name refused", func(t *testing.T) {
		// A result in a local "bucket" whose record's _id climbs out of --dest.
		root := t.TempDir()
		src := filepath.Join(root, "bucket", "evil")
		if err := os.MkdirAll(src, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "x.txt"), []byte("hello"), 0o644); err != nil {
			t.Fatal(err)
		}
		manifest := `{"hash": "../../x", "files": [{"path": "x.txt", "size": 5, "sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"}]}`
		if err := os.WriteFile(filepath.Join(src, "manifest.json"), []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		const id = "../../x"
		w.env.InsertDocs(t, w.db, "results", []any{map[string]any{"_id": id, "name": id, "location": src}})
		t.Cleanup(func() {
			_, _ = w.env.Mongo(t).Database(w.db).Collection("results").DeleteOne(context.Background(), map[string]any{"_id": id})
		})
		dest := filepath.Join(root, "a", "b", "dest")
		if err := os.MkdirAll(dest, 0o755); err != nil {
			t.Fatal(err)
		}
		r := w.run(t, "get", id, "-d", dest)
		if r.Code != 1 {
			t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
		}
		for _, s := range []string{`result record "../../x"`, "field _id"} {
			if !strings.Contains(r.Stderr, s) {
				t.Fatalf("stderr lacks %q: %s", s, r.Stderr)
			}
		}
		for _, p := range []string{filepath.Join(root, "a", "x"), dest} {
			if entries, _ := os.ReadDir(p); len(entries) != 0 {
				t.Fatalf("%s written: %v", p, entries)
			}
		}
	})
	t.Run("corrupted result refused", func(t *testing.T) {
		// Same size, different bytes: only the checksum can tell.
		u := storage.MustParse("s3://" + w.bucket + "/results/" + w.hashA1 + "/plot.png")
		orig, err := w.store.Open(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(orig)
		orig.Close()
		bad := b.Bytes()
		bad[len(bad)/2] ^= 0xff
		if err := w.store.Put(context.Background(), u, bytes.NewReader(bad), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		dest := t.TempDir()
		r := w.run(t, "get", w.hashA1, "-d", dest)
		if r.Code != 1 {
			t.Fatalf("exit %d, want 1\nstderr: %s", r.Code, r.Stderr)
		}
		for _, s := range []string{"result " + w.hashA1, "plot.png: sha256", "does not match its manifest"} {
			if !strings.Contains(r.Stderr, s) {
				t.Fatalf("stderr lacks %q: %s", s, r.Stderr)
			}
		}
		if _, err := os.Stat(filepath.Join(dest, w.hashA1, "plot.png")); !os.IsNotExist(err) {
			t.Fatalf("corrupted file left in place (%v)", err)
		}
		if entries, _ := os.ReadDir(dest); len(entries) != 0 {
			t.Fatalf("a refused result left %v in --dest", entries)
		}
	})
	t.Run("another job's result under a recorded hash refused", func(t *testing.T) {
		// B's complete result copied over A2's (a recorded result), its manifest's hash
		// rewritten: every file matches the manifest; only the metadata can tell.
		ctx := context.Background()
		from, to := "results/"+w.hashB+"/", "results/"+w.hashA2+"/"
		m, err := result.ReadManifest(ctx, w.store, storage.MustParse("s3://"+w.bucket+"/"+from))
		if err != nil {
			t.Fatal(err)
		}
		raw := w.env.S3(t)
		for _, e := range m.Files {
			if _, err := raw.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(w.bucket), CopySource: aws.String(w.bucket + "/" + from + e.Path), Key: aws.String(to + e.Path)}); err != nil {
				t.Fatal(err)
			}
		}
		m.Hash = w.hashA2
		b, _ := json.Marshal(m)
		if err := w.store.Put(ctx, storage.MustParse("s3://"+w.bucket+"/"+to+result.ManifestFile), bytes.NewReader(b), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		dest := t.TempDir()
		r := w.run(t, "get", w.hashA2, "-d", dest)
		if r.Code != 1 {
			t.Fatalf("exit %d, want 1\nstderr: %s", r.Code, r.Stderr)
		}
		want := "s3://" + w.bucket + "/" + to + result.MetadataFile + " describes job " + w.hashB + ", not " + w.hashA2
		for _, s := range []string{"result " + w.hashA2, want} {
			if !strings.Contains(r.Stderr, s) {
				t.Fatalf("stderr lacks %q: %s", s, r.Stderr)
			}
		}
		if entries, _ := os.ReadDir(dest); len(entries) != 0 {
			t.Fatalf("a refused result left %v in --dest", entries)
		}
	})
}
