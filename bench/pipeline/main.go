// Command pipeline benchmarks the whole pipeline: N assets through main.nf with real
// Nextflow on a throw-away devstack, one job per asset, --tasks_per_job jobs per WRAPPER
// task, the analysis `true`; then the same run again, which must find every job done and do
// no work. For each N (and each executor: local, and slurm when SLURM_CONF names a running
// cluster) it prints the wall time per job, the tasks, the S3 and DocDB requests per job
// counted at the devstack, and the peak RSS of the Nextflow JVM and of the dispatcher; then
// how the cost per job grows with N, and the upstream Python wrapper against aind-wrapper
// on the same jobs, one process each over one task's job files (like with like).
//
//	go run ./bench/pipeline                    # 1,000 and 10,000 jobs, local executor
//	go run ./bench/pipeline -n 500             # what CI runs
//
// See bench/README.md for what each figure means. The report goes to stdout and to
// bench/results/pipeline-<UTC time>.txt; progress to stderr. It fails (exit 1) when a run
// does not record every job, when the rerun does any work, or when a tool fails; a figure
// over its target is marked OVER TARGET but does not fail the run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// settings are the command-line flags.
type settings struct {
	sizes        []int
	tasksPerJob  int
	executors    []string
	upstreamJobs int
	rounds       int
	targetMS     float64
	rerunTarget  time.Duration
	upTarget     float64
	keep         bool
	resultsDir   string
	nxfOpts      string
}

func main() {
	var s settings
	var sizes, executors string
	flag.StringVar(&sizes, "n", "1000,10000", "comma-separated numbers of assets (= jobs) to run")
	flag.IntVar(&s.tasksPerJob, "tasks-per-job", 20, "jobs per WRAPPER task (--tasks_per_job)")
	flag.StringVar(&executors, "executors", "", "comma-separated executors (default: local, and slurm when SLURM_CONF is set)")
	flag.IntVar(&s.upstreamJobs, "upstream-jobs", 20, "jobs in the upstream comparison (one task's job files; 0 skips it)")
	flag.IntVar(&s.rounds, "rounds", 3, "rounds of the upstream comparison (the report gives medians)")
	flag.Float64Var(&s.targetMS, "target-ms", 25, "target for the wall time per job at the largest N, in ms")
	flag.DurationVar(&s.rerunTarget, "rerun-target", 10*time.Second, "target for the zero-work rerun at the largest N")
	flag.Float64Var(&s.upTarget, "upstream-target", 20, "target for the upstream wrapper's time per job over aind-wrapper's")
	flag.BoolVar(&s.keep, "keep", false, "keep the temp dir (work folders, logs, devstack data)")
	flag.StringVar(&s.resultsDir, "results", "bench/results", "folder receiving the report file")
	flag.StringVar(&s.nxfOpts, "nxf-opts", os.Getenv("NXF_OPTS"), "NXF_OPTS for Nextflow (default: the environment's; empty: the launcher's defaults)")
	flag.Parse()
	var err error
	if s.sizes, err = parseSizes(sizes); err != nil || flag.NArg() > 0 || s.tasksPerJob < 1 || s.rounds < 1 {
		fmt.Fprintf(os.Stderr, "bench/pipeline: bad arguments (%v): -n takes positive numbers, -tasks-per-job and -rounds at least 1, no positional arguments\n", err)
		flag.Usage()
		os.Exit(2)
	}
	s.executors = splitList(executors)
	if len(s.executors) == 0 {
		s.executors = []string{"local"}
		if os.Getenv("SLURM_CONF") != "" {
			s.executors = append(s.executors, "slurm")
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, s); err != nil {
		fmt.Fprintln(os.Stderr, "bench/pipeline: FAIL:", err)
		os.Exit(1)
	}
}

func parseSizes(list string) ([]int, error) {
	var out []int
	for _, f := range splitList(list) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-n %q: %q is not a positive number", list, f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("-n is empty")
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "== "+format+"\n", args...)
}

// run builds the tools, starts the devstack, runs every size on every executor, the
// upstream comparison, and writes the report.
func run(ctx context.Context, s settings) (err error) {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(scratchParent(), "aind-bench-pipeline.")
	if err != nil {
		return err
	}
	defer func() {
		if s.keep || err != nil {
			fmt.Fprintln(os.Stderr, "bench/pipeline: kept", tmp)
			return
		}
		os.RemoveAll(tmp)
	}()
	b, err := build(ctx, root, tmp)
	if err != nil {
		return err
	}
	ds, err := startDevstack(ctx, b, filepath.Join(tmp, "devstack"))
	if err != nil {
		return err
	}
	defer ds.stop()

	rep := report{settings: s, started: time.Now(), header: header(root, tmp, s.nxfOpts, ds)}
	for _, executor := range s.executors {
		for _, n := range s.sizes {
			r, err := runSize(ctx, b, ds, tmp, executor, n, s)
			if err != nil {
				return fmt.Errorf("%s executor, %d jobs: %w", executor, n, err)
			}
			rep.runs = append(rep.runs, r)
		}
	}
	if s.upstreamJobs > 0 {
		peer, err := compareUpstream(ctx, b, ds, tmp, rep.runs[0], s)
		if err != nil {
			return fmt.Errorf("upstream comparison: %w", err)
		}
		rep.peer = &peer
	}
	text := rep.String()
	fmt.Print(text)
	return rep.save(root, text)
}

// repoRoot is the repository's top folder (the bench runs from anywhere inside it).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "main.nf")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no main.nf in %s or above: run the bench inside the repository", dir)
		}
	}
}

// scratchParent is where the temp dir goes: tmpfs when there is one (the servers' data
// and the work folders; a disk's fsync would be part of every job), else TMPDIR.
func scratchParent() string {
	if d := os.Getenv("BENCH_TMPDIR"); d != "" {
		return d
	}
	var st syscall.Statfs_t
	if runtime.GOOS == "linux" && syscall.Statfs("/dev/shm", &st) == nil && st.Type == 0x01021994 { // TMPFS_MAGIC
		return "/dev/shm"
	}
	return os.TempDir()
}
