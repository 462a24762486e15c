package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// benchCode is the code identity of every benchmark job (the wrapper publishes only
// versioned code).
const benchCode = "https://github.com/allenneuraldynamics/aind-analysis-go/tree/main/bench/pipeline"

// sizeRun is one size on one executor: the first run and the zero-work rerun.
type sizeRun struct {
	executor     string
	n            int
	first, again nfRun
	records      int64
	resultsColl  string // the results collection (analysis records of the run)
	dispatchDir  string // the first run's DISPATCH work folder (its task folders in results/)
}

// nfRun is one `nextflow run`.
type nfRun struct {
	wall        time.Duration
	busy        time.Duration // CPU time of the whole machine during the run
	devstackCPU time.Duration // of which the servers' (FerretDB, versitygw)
	jvmCPU      time.Duration // Nextflow's JVM and every process it waited for (the tasks)
	jvmRSS      int64         // bytes, the JVM's peak
	dispatchRSS string        // the DISPATCH task's peak_rss, as Nextflow's trace gives it
	tasks       map[string]int
	req         requests
	dispatch    string // aind-dispatch's summary line
}

func (r nfRun) count(process string) int {
	n := 0
	for k, v := range r.tasks {
		if strings.HasPrefix(k, process+" ") {
			n += v
		}
	}
	return n
}

// runSize seeds n asset records, runs the pipeline over them, then again.
func runSize(ctx context.Context, t tools, ds *devstack, tmp, executor string, n int, s settings) (sizeRun, error) {
	r := sizeRun{executor: executor, n: n, resultsColl: fmt.Sprintf("pipe_%s_%d", executor, n)}
	assetDB := fmt.Sprintf("benchpipe_%d", n)
	progress("%s, %d jobs: seeding %d asset records", executor, n, n)
	seed := exec.CommandContext(ctx, t.seed, "-db", assetDB, "-records", strconv.Itoa(n), "-assets-with-files", "0")
	seed.Env = ds.environ(nil)
	if out, err := seed.CombinedOutput(); err != nil {
		return r, fmt.Errorf("seeding: %w\n%s", err, out)
	}
	dir := filepath.Join(tmp, fmt.Sprintf("%s-%d", executor, n))
	input := filepath.Join(dir, "input")
	if err := os.MkdirAll(input, 0o755); err != nil {
		return r, err
	}
	if err := os.WriteFile(filepath.Join(input, "input_query.json"), []byte("{}\n"), 0o644); err != nil {
		return r, err
	}
	env := map[string]string{
		"PATH":                     t.bin + ":" + os.Getenv("PATH"),
		"DOCDB_ASSET_DATABASE":     assetDB,
		"DOCDB_DATABASE":           "benchpipe",
		"DOCDB_COLLECTION":         r.resultsColl,
		"AIND_LOG_LEVEL":           "warn",
		"NXF_ANSI_LOG":             "false",
		"NXF_DISABLE_CHECK_LATEST": "true",
		"NXF_HOME":                 filepath.Join(tmp, "nxf-home"),
	}
	if s.nxfOpts != "" {
		env["NXF_OPTS"] = s.nxfOpts
	}
	args := []string{"run", t.root, "--input", input, "--outdir", filepath.Join(dir, "out"),
		"--analysis_command", "true", "--dry_run", "false", "--code_url", benchCode, "--code_version", codeVersion(executor, n),
		"--tasks_per_job", strconv.Itoa(s.tasksPerJob), "--max_number_of_tasks_dispatched", strconv.Itoa(n)}
	if executor != "local" {
		args = append(args, "-profile", executor)
	}
	var err error
	progress("%s, %d jobs: first run", executor, n)
	if r.first, err = nextflow(ctx, t, ds, dir, env, args); err != nil {
		return r, err
	}
	wantTasks := (n + s.tasksPerJob - 1) / s.tasksPerJob
	if got := r.first.tasks["WRAPPER COMPLETED"]; got != wantTasks || r.first.count("WRAPPER") != wantTasks {
		return r, fmt.Errorf("first run: WRAPPER tasks %v, want %d completed", r.first.tasks, wantTasks)
	}
	if r.records, err = countRecords(ctx, ds, r.resultsColl); err != nil {
		return r, err
	}
	if r.records != int64(n) {
		return r, fmt.Errorf("first run: %d records in benchpipe.%s, want one per job (%d)", r.records, r.resultsColl, n)
	}
	if r.dispatchDir, err = dispatchWorkDir(filepath.Join(dir, "out")); err != nil {
		return r, err
	}
	progress("%s, %d jobs: zero-work rerun", executor, n)
	if r.again, err = nextflow(ctx, t, ds, dir, env, args); err != nil {
		return r, err
	}
	if r.again.count("WRAPPER") != 0 || r.again.tasks["DISPATCH COMPLETED"] != 1 || !strings.Contains(r.again.dispatch, " 0 written") {
		return r, fmt.Errorf("rerun did work: tasks %v, dispatch %q", r.again.tasks, r.again.dispatch)
	}
	return r, nil
}

// codeVersion is the --code_version of one executor's size: part of every job's identity,
// so no size adopts the results of another (the seeded assets of every size share names).
func codeVersion(executor string, n int) string { return fmt.Sprintf("bench-%s-n%d", executor, n) }

// nextflow runs the launcher in dir and measures it.
func nextflow(ctx context.Context, t tools, ds *devstack, dir string, env map[string]string, args []string) (nfRun, error) {
	var r nfRun
	before := traces(filepath.Join(dir, "out"))
	if _, err := ds.counters(ctx, true); err != nil {
		return r, err
	}
	dsBefore, err := ds.cpu()
	if err != nil {
		return r, err
	}
	busyBefore, err := machineBusy()
	if err != nil {
		return r, err
	}
	logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("nextflow-%d.log", len(before)+1)))
	if err != nil {
		return r, err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, t.nextflow, args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, ds.environ(env), logf, logf
	start := time.Now()
	err = cmd.Run()
	r.wall = time.Since(start)
	if err != nil {
		return r, fmt.Errorf("nextflow %s: %w (log: %s)", strings.Join(args, " "), err, logf.Name())
	}
	busyAfter, _ := machineBusy()
	dsAfter, _ := ds.cpu()
	r.busy, r.devstackCPU = busyAfter-busyBefore, dsAfter-dsBefore
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.jvmRSS = ru.Maxrss * 1024
		r.jvmCPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if r.req, err = ds.counters(ctx, false); err != nil {
		return r, err
	}
	trace, err := newTrace(filepath.Join(dir, "out"), before)
	if err != nil {
		return r, err
	}
	rows, err := readTrace(trace)
	if err != nil {
		return r, err
	}
	r.tasks = map[string]int{}
	for _, row := range rows {
		r.tasks[row["process"]+" "+row["status"]]++
		if row["process"] == "DISPATCH" {
			r.dispatchRSS = row["peak_rss"]
			r.dispatch = summaryLine(filepath.Join(row["workdir"], ".command.out"), "aind-dispatch: ")
		}
	}
	return r, nil
}

// machineBusy is the CPU time all cores spent outside idle and iowait since boot
// (/proc/stat, in USER_HZ = 1/100 s ticks).
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 && i < 8 {
			busy += n
		}
	}
	return time.Duration(busy) * 10 * time.Millisecond, nil
}

func traces(outdir string) map[string]bool {
	files, _ := filepath.Glob(filepath.Join(outdir, "pipeline_info", "trace_*.txt"))
	m := map[string]bool{}
	for _, f := range files {
		m[f] = true
	}
	return m
}

// newTrace is the trace file the last run wrote (one not in before).
func newTrace(outdir string, before map[string]bool) (string, error) {
	var fresh []string
	for f := range traces(outdir) {
		if !before[f] {
			fresh = append(fresh, f)
		}
	}
	if len(fresh) != 1 {
		return "", fmt.Errorf("want one new trace file in %s/pipeline_info, found %v", outdir, fresh)
	}
	return fresh[0], nil
}

// readTrace reads a Nextflow trace file (tab-separated, a header line) into rows by column.
func readTrace(path string) ([]map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var cols []string
	var rows []map[string]string
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if cols == nil {
			cols = fields
			continue
		}
		row := map[string]string{}
		for i, c := range cols {
			if i < len(fields) {
				row[c] = fields[i]
			}
		}
		rows = append(rows, row)
	}
	return rows, sc.Err()
}

// dispatchWorkDir is the DISPATCH task's work folder of the oldest run in outdir.
func dispatchWorkDir(outdir string) (string, error) {
	var files []string
	for f := range traces(outdir) {
		files = append(files, f)
	}
	sort.Strings(files)
	if len(files) == 0 {
		return "", fmt.Errorf("no trace in %s", outdir)
	}
	rows, err := readTrace(files[0])
	if err != nil {
		return "", err
	}
	for _, row := range rows {
		if row["process"] == "DISPATCH" {
			return row["workdir"], nil
		}
	}
	return "", fmt.Errorf("%s has no DISPATCH task", files[0])
}

// summaryLine returns the last line of path starting with prefix ("" when none).
func summaryLine(path, prefix string) string {
	b, _ := os.ReadFile(path)
	line := ""
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, prefix) {
			line = l
		}
	}
	return line
}

// countRecords counts the records of the results collection.
func countRecords(ctx context.Context, ds *devstack, coll string) (int64, error) {
	c, err := mongo.Connect(options.Client().ApplyURI(ds.env["DOCDB_URI"]))
	if err != nil {
		return 0, err
	}
	defer c.Disconnect(context.WithoutCancel(ctx))
	n, err := c.Database("benchpipe").Collection(coll).CountDocuments(ctx, bson.D{})
	if err != nil {
		return 0, fmt.Errorf("counting the records of benchpipe.%s: %w", coll, err)
	}
	return n, nil
}
