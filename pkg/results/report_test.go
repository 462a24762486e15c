package results

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/golden"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/result"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runFolder is a wrapper output folder with one job of each status.
func runFolder(t *testing.T) string {
	dir := t.TempDir()
	r := rec("donehash", "1", 1, 0.5, "s3://b/x")
	meta, _ := json.Marshal(r.Metadata)
	writeFile(t, filepath.Join(dir, "donehash", result.MetadataFile), string(meta))
	writeFile(t, filepath.Join(dir, "donehash", result.ManifestFile), "{}")
	writeFile(t, filepath.Join(dir, "donehash", "plots", "p.png"), "\x89PNG fake")
	writeFile(t, filepath.Join(dir, "dryhash", result.MetadataFile), string(meta))
	writeFile(t, filepath.Join(dir, "failhash", result.ErrorFile), "analysis: boom\n\nlast lines of analysis.log:\n...")
	writeFile(t, filepath.Join(dir, "failhash", result.LogFile), "line 1\nline <2>\nboom | here\n")
	mk := func(m result.Marker) string { b, _ := json.Marshal(m); return string(b) }
	writeFile(t, filepath.Join(dir, result.FailedPrefix+"job_f"), mk(result.Marker{Job: "job_f", Hash: "failhash", Status: "failed", Reason: "job job_f: analysis: boom", Time: "2026-01-01T00:05:00Z"}))
	writeFile(t, filepath.Join(dir, result.FailedPrefix+"job_p"), mk(result.Marker{Job: "job_p", Status: "failed", Reason: "bad parameters", Time: "2026-01-01T00:05:00Z"}))
	writeFile(t, filepath.Join(dir, result.SkipPrefix+"job_s"), mk(result.Marker{Job: "job_s", Hash: "skiphash", Status: "skipped", Reason: "a result record with this identity exists", Time: "2026-01-01T00:06:00Z"}))
	writeFile(t, filepath.Join(dir, "notes", "readme.txt"), "not a result")
	return dir
}

func TestLoadRunAndReport(t *testing.T) {
	dir := runFolder(t)
	run, err := LoadRun(context.Background(), storage.NewLocal(), storage.MustParse(dir))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range run.Jobs {
		got = append(got, j.Name+"/"+j.Hash+"="+j.Status)
	}
	want := "job_f/failhash=failed,job_p/=failed,/donehash=done,/dryhash=dry-run,job_s/skiphash=skipped"
	if strings.Join(got, ",") != want {
		t.Fatalf("jobs %v\nwant %s", got, want)
	}
	if run.Jobs[0].LogTail == "" || len(run.Jobs[2].Plots) != 1 || run.Jobs[2].Duration() != time.Second {
		t.Fatalf("failed job log %q, done job plots %d, duration %s", run.Jobs[0].LogTail, len(run.Jobs[2].Plots), run.Jobs[2].Duration())
	}
	run.Source = "RUN" // stable golden files
	var md, html bytes.Buffer
	if err := run.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "report.md", md.Bytes())
	if err := run.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "report.html", html.Bytes())
	for _, s := range []string{`line &lt;2&gt;`, `src="data:image/png;base64,`, `data-status="skipped"`} {
		if !strings.Contains(html.String(), s) {
			t.Errorf("HTML lacks %q", s)
		}
	}
}

func TestEnrichSkipped(t *testing.T) {
	run := Run{Jobs: []Job{{Name: "job_s", Hash: "a1", Status: StatusSkipped}, {Name: "job_f", Status: StatusFailed}}}
	n, err := run.Enrich(context.Background(), &fakeFinder{docs: []result.Record{rec("a1", "1", 1, 0.5, "s3://b/x")}})
	if err != nil || n != 1 {
		t.Fatalf("Enrich = %d, %v", n, err)
	}
	if j := run.Jobs[0]; len(j.Inputs) != 1 || j.Inputs[0] != "s3://b/x" || FormatValue(j.Parameters["cutoff"]) != "0.5" {
		t.Fatalf("skipped job not filled: %+v", j)
	}
}
