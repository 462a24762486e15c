package resultscmd_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/devstacktest"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// testReport reports run 1 (A skipped, B done, C failed) from its local output folder and
// from a copy published to s3://, and checks the HTML page in headless Chromium.
func testReport(t *testing.T, w *world) {
	dir := t.TempDir()
	html, md := filepath.Join(dir, "report.html"), filepath.Join(dir, "report.md")
	r := w.run(t, "report", w.run1Dir, "--html", html, "--markdown", md)
	mustOK(t, r, "report")
	mdText, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"| done | 1 |", "| skipped | 1 |", "| failed | 1 |", "| **total** | **3** |",
		"no samples above cutoff 0.9", "cutoff too high: nothing passes", w.jobA, w.jobC, "a result record with this identity exists"} {
		if !strings.Contains(string(mdText), s) {
			t.Errorf("markdown lacks %q:\n%s", s, mdText)
		}
	}

	if devstacktest.DocDBBackend() == devstacktest.BackendMongo {
		// The skipped job's details come from its record.
		for _, l := range strings.Split(string(mdText), "\n") {
			if strings.Contains(l, w.jobA) && !(strings.Contains(l, w.asset1) && strings.Contains(l, "cutoff=0.25") && strings.Contains(l, "skipped")) {
				t.Errorf("skipped job's row lacks its record's inputs and parameters: %s", l)
			}
		}
	}

	t.Run("published to s3", func(t *testing.T) {
		root := storage.MustParse("s3://" + w.bucket + "/runs/run1")
		err := filepath.WalkDir(w.run1Dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(w.run1Dir, p)
			return w.store.PutFile(context.Background(), p, root.Join(filepath.ToSlash(rel)), storage.PutOptions{})
		})
		if err != nil {
			t.Fatal(err)
		}
		r := w.run(t, "report", root.String(), "--html", filepath.Join(t.TempDir(), "s3.html"), "--markdown", "-")
		mustOK(t, r, "report s3")
		local := strings.Replace(string(mdText), w.run1Dir, root.String(), 1)
		if r.Stdout != local {
			t.Fatalf("report of the s3 copy differs:\n%s\n---- local:\n%s", r.Stdout, local)
		}
	})

	t.Run("chromium", func(t *testing.T) {
		browser := findChromium()
		if browser == "" {
			t.Fatal("chromium not installed: scripts/install-deps installs it (apt-get install chromium)")
		}
		page := "file://" + html
		dom, stderr := chromium(t, browser, "--dump-dom", page)
		if m := regexp.MustCompile(`(?i)CONSOLE.*(Uncaught|error)|Not allowed to load`).FindString(stderr); m != "" {
			t.Fatalf("page logged an error: %s", m)
		}
		rows := regexp.MustCompile(`<tr class="job [^"]*" data-status="([^"]+)" data-hash="([0-9a-f]*)"`).FindAllStringSubmatch(dom, -1)
		got := map[string]string{}
		for _, row := range rows {
			got[row[2]] = row[1]
		}
		want := map[string]string{w.hashA1: "skipped", w.hashB: "done", w.hashC: "failed"}
		if len(rows) != 3 || !mapsEqual(got, want) {
			t.Fatalf("job rows %v, want %v", got, want)
		}
		if n := strings.Count(dom, `src="data:image/png;base64,`); n != 1 {
			t.Fatalf("%d embedded plots, want 1 (job B's)", n)
		}
		if !strings.Contains(dom, `<td class="count" data-status="failed">1</td>`) {
			t.Fatal("failed count not 1 in the rendered page")
		}
		shot := filepath.Join(t.TempDir(), "report.png")
		if keep := os.Getenv("AIND_REPORT_SCREENSHOT"); keep != "" {
			shot = keep
		}
		chromium(t, browser, "--screenshot="+shot, "--window-size=1400,1000", page)
		st, err := os.Stat(shot)
		if err != nil || st.Size() < 1000 {
			t.Fatalf("no screenshot at %s (%v)", shot, err)
		}
		b, _ := os.ReadFile(shot)
		if !slices.Equal(b[:8], []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatal("screenshot is not a PNG")
		}
		t.Logf("screenshot: %s (%d bytes)", shot, st.Size())
	})
}

func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// chromium runs headless Chromium and returns its stdout and stderr.
func chromium(t *testing.T, browser string, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, browser, append([]string{"--headless", "--no-sandbox", "--disable-gpu",
		"--disable-dev-shm-usage", "--disable-quic", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--user-data-dir=" + filepath.Join(home, "profile"),
		"--enable-logging=stderr", "--v=0"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String(), stderr.String()
}
