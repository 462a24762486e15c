package resultscmd_test

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/clitest"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/foraging"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/wrapper"
)

// laptopWidth is the window width the report must fit, in CSS pixels.
const laptopWidth = 1400

// foragingRun runs the demo's foraging analysis (scripts/demo's second pipeline: the
// seeded foraging assets, one job per mouse, the demo's analysis_parameters.json) as a dry
// run into a local output folder, the way a wrapper task does, and returns that folder.
func foragingRun(t *testing.T) string {
	t.Helper()
	for _, k := range []string{"DOCDB_URI", "DOCDB_HOST", "DOCDB_COLLECTION", "ANALYSIS_BUCKET"} {
		t.Setenv(k, "")
	}
	seed, err := filepath.Abs("../../../testdata/devstack/s3/aind-foraging-devstack")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(seed)
	if err != nil {
		t.Fatal(err)
	}
	bySubject := map[string][]string{}
	for _, e := range entries {
		if parts := strings.Split(e.Name(), "_"); e.IsDir() && len(parts) > 2 && parts[0] == "foraging" {
			bySubject[parts[1]] = append(bySubject[parts[1]], e.Name())
		}
	}
	if len(bySubject) < 2 {
		t.Fatalf("%s: %d mice, want the demo's two", seed, len(bySubject))
	}
	in := t.TempDir()
	if err := os.MkdirAll(filepath.Join(in, "job_dict"), 0o755); err != nil {
		t.Fatal(err)
	}
	for subject, names := range bySubject {
		sort.Strings(names)
		j := job.Job{AssetName: names, GroupMetadata: map[string]any{"subject__subject_id": subject}}
		for _, n := range names {
			j.S3Location = append(j.S3Location, filepath.Join(seed, n))
			j.DocDBRecordID = append(j.DocDBRecordID, "record-"+n)
		}
		name, err := j.FileName()
		if err != nil {
			t.Fatal(err)
		}
		b, err := j.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(in, "job_dict", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	params, err := os.ReadFile("../../../testdata/foraging/demo/input/analysis_parameters.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "analysis_parameters.json"), params, 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if code := wrapper.MainArgs(foraging.Analysis(), []string{"--input_directory=" + in, "--output_directory=" + out,
		"--scratch_directory=" + t.TempDir(), "--log_level=warn"}); code != 0 {
		t.Fatalf("aind-foraging: exit %d", code)
	}
	return out
}

// TestForagingReportFitsALaptop renders the report of the demo's foraging run in headless
// Chromium 1400 pixels wide: the page is no wider than the window, the plots come first,
// each job's row names it and shows its scalar outputs as a short table with the list and
// object outputs folded. It leaves a screenshot (at $AIND_REPORT_SCREENSHOT if set) to
// look at.
func TestForagingReportFitsALaptop(t *testing.T) {
	browser := findChromium()
	if browser == "" {
		t.Fatal("chromium not installed: scripts/install-deps installs it (apt-get install chromium)")
	}
	run := foragingRun(t)
	dir := t.TempDir()
	html := filepath.Join(dir, "report.html")
	mustOK(t, clitest.Run(t, bin, nil, "report", run, "--html", html), "report")
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}

	// The page as shown, measured once loaded (images decoded): the same page with a script
	// that writes the document's size into the DOM that --dump-dom prints.
	measure := filepath.Join(dir, "measure.html")
	script := `<script>addEventListener("load", () => document.body.setAttribute("data-fit",
  document.documentElement.scrollWidth + "x" + document.documentElement.scrollHeight))</script></body>`
	if err := os.WriteFile(measure, []byte(strings.Replace(string(page), "</body>", script, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	dom, stderr := chromium(t, browser, "--window-size="+strconv.Itoa(laptopWidth)+",1000", "--dump-dom", "file://"+measure)
	if m := regexp.MustCompile(`(?i)CONSOLE.*(Uncaught|error)|Not allowed to load`).FindString(stderr); m != "" {
		t.Fatalf("page logged an error: %s", m)
	}
	fit := regexp.MustCompile(`data-fit="(\d+)x(\d+)"`).FindStringSubmatch(dom)
	if fit == nil {
		t.Fatalf("the page did not report its size:\n%.2000s", dom)
	}
	width, _ := strconv.Atoi(fit[1])
	height, _ := strconv.Atoi(fit[2])
	if width > laptopWidth {
		t.Errorf("page is %d px wide in a %d px window: it scrolls sideways", width, laptopWidth)
	}

	plots, jobs := strings.Index(dom, `<h2 id="plots">`), strings.Index(dom, `<table id="jobs">`)
	if plots < 0 || jobs < 0 || plots > jobs {
		t.Errorf("plots at %d, job table at %d: want the plots first", plots, jobs)
	}
	if n := strings.Count(dom, `src="data:image/png;base64,`); n != 16 {
		t.Errorf("%d embedded plots, want 16 (8 per mouse)", n)
	}
	rows := regexp.MustCompile(`(?s)<tr class="job dry-run"[^>]*><td class="label">([^<]+)</td>.*?<td class="outputs">(.*?)</td><td>`).FindAllStringSubmatch(dom, -1)
	if len(rows) != 2 {
		t.Fatalf("%d dry-run job rows with outputs, want 2", len(rows))
	}
	for _, r := range rows {
		label, outs := r[1], r[2]
		subject := regexp.MustCompile(`foraging_(\d+)_`).FindStringSubmatch(label)
		if subject == nil {
			t.Errorf("job label %q does not name the mouse's assets", label)
			continue
		}
		if !strings.Contains(outs, `<table class="kv"><tbody><tr><th>subject_id</th><td>`+subject[1]+`</td></tr>`) {
			t.Errorf("job %s: subject_id not in its outputs table: %.500s", label, outs)
		}
		for _, folded := range []string{"channels (2 keys)", "sessions (2 items)", "pearson ("} {
			if !strings.Contains(outs, `<details class="nested"><summary>`+folded) {
				t.Errorf("job %s: no folded %q output", label, folded)
			}
		}
		if strings.Contains(outs, "<details class=\"nested\" open") {
			t.Errorf("job %s: a nested output is unfolded", label)
		}
	}

	shot := filepath.Join(dir, "report.png")
	if keep := os.Getenv("AIND_REPORT_SCREENSHOT"); keep != "" {
		shot = keep
	}
	chromium(t, browser, "--window-size="+strconv.Itoa(laptopWidth)+","+strconv.Itoa(height), "--screenshot="+shot, "file://"+html)
	if st, err := os.Stat(shot); err != nil || st.Size() < 100_000 {
		t.Fatalf("no screenshot at %s (%v)", shot, err)
	}
	t.Logf("page %dx%d px; screenshot: %s", width, height, shot)
}
