package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// countsDoc is the devstack's GET /requests answer (devstack/README.md): per server, the
// requests by kind and the connections accepted.
type countsDoc struct {
	S3 struct {
		Requests    map[string]int64 `json:"requests"`
		Connections int64            `json:"connections"`
	} `json:"s3"`
	DocDB struct {
		Commands    map[string]int64 `json:"commands"`
		Connections int64            `json:"connections"`
	} `json:"docdb"`
}

// handshakes are the drivers' connection and monitoring commands: not requests a tool
// makes for its work.
var handshakes = map[string]bool{"hello": true, "isMaster": true, "ismaster": true, "ping": true,
	"buildInfo": true, "saslStart": true, "saslContinue": true, "endSessions": true}

func (c countsDoc) requests() requests {
	r := requests{S3Conns: c.S3.Connections, DocDBConns: c.DocDB.Connections, byKind: map[string]int64{}}
	for k, v := range c.S3.Requests {
		r.S3 += v
		r.byKind["s3 "+k] = v
	}
	for k, v := range c.DocDB.Commands {
		r.byKind["docdb "+k] = v
		if !handshakes[k] {
			r.DocDB += v
		}
	}
	return r
}

// report is the benchmark's outcome.
type report struct {
	settings settings
	started  time.Time
	header   string
	runs     []sizeRun
	peer     *peerResult
}

// header says what ran where: commit, machine, load, where the data went.
func header(root, tmp, nxfOpts string, ds *devstack) string {
	commit, _ := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	dirty := ""
	if out, _ := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); len(out) > 0 {
		dirty = " (with uncommitted changes)"
	}
	opts := nxfOpts
	if opts == "" {
		opts = "unset: the launcher's defaults"
	}
	return fmt.Sprintf("commit %s%s, %s, %d CPUs, load %s, data in %s\n",
		strings.TrimSpace(string(commit)), dirty, runtime.Version(), runtime.NumCPU(), load(), tmp) +
		fmt.Sprintf("Nextflow 24.10.0 (scripts/install-deps; NXF_OPTS %s), devstack DocDB %s\n", opts, ds.env["DOCDB_URI"])
}

// load is the 1-minute load average.
func load() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/1e6) }

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "OVER TARGET"
}

func (r report) String() string {
	var b strings.Builder
	s := r.settings
	fmt.Fprintf(&b, "pipeline: N assets = N jobs through main.nf, --tasks_per_job %d, analysis `true`, on the devstack (load now %s)\n", s.tasksPerJob, load())
	b.WriteString(r.header)
	for _, executor := range s.executors {
		fmt.Fprintf(&b, "%s executor:\n", executor)
		fmt.Fprintf(&b, "  %7s %9s %7s %6s %7s %9s %9s %9s %9s %11s %9s\n", "jobs", "run", "ms/job", "tasks", "S3/job", "DocDB/job", "cpu/job", "servers", "JVM RSS", "dispatcher", "rerun")
		var sized []sizeRun
		for _, run := range r.runs {
			if run.executor != executor {
				continue
			}
			sized = append(sized, run)
			n := float64(run.n)
			f := run.first
			fmt.Fprintf(&b, "  %7d %8.1fs %7.1f %6d %7.2f %9.2f %7.1fms %7.1fms %9s %11s %8.1fs\n",
				run.n, f.wall.Seconds(), ms(f.wall)/n, f.count("WRAPPER")+f.count("DISPATCH"),
				float64(f.req.S3)/n, float64(f.req.DocDB)/n, ms(f.busy)/n, ms(f.devstackCPU)/n,
				mb(f.jvmRSS), f.dispatchRSS, run.again.wall.Seconds())
		}
		if len(sized) == 0 {
			continue
		}
		first, last := sized[0], sized[len(sized)-1]
		perJob := func(x sizeRun) float64 { return ms(x.first.wall) / float64(x.n) }
		if len(sized) > 1 {
			fmt.Fprintf(&b, "  cost per job at %d / at %d = %.2f (linear in N: 1 or below; the fixed start-up spreads over more jobs)\n",
				last.n, first.n, perJob(last)/perJob(first))
		}
		fmt.Fprintf(&b, "  at %d jobs: %.1f ms per job (target <= %.0f: %s); zero-work rerun %.1f s (target <= %s: %s)\n",
			last.n, perJob(last), s.targetMS, verdict(perJob(last) <= s.targetMS),
			last.again.wall.Seconds(), s.rerunTarget, verdict(last.again.wall <= s.rerunTarget))
		fmt.Fprintf(&b, "  requests per job at %d: %s\n", last.n, kinds(last.first.req, last.n))
		fmt.Fprintf(&b, "  connections accepted: S3 %d, DocDB %d over %d tasks; rerun: %d S3 and %d DocDB requests in all\n",
			last.first.req.S3Conns, last.first.req.DocDBConns, last.first.count("WRAPPER")+1, last.again.req.S3, last.again.req.DocDB)
	}
	if r.peer != nil {
		fmt.Fprintf(&b, "upstream wrapper vs aind-wrapper, the same job files, one process per task, through the DocDB gateway, median of %d rounds:\n", s.rounds)
		for _, size := range r.peer.sizes {
			n := size.jobs()
			up, ours := perJob(size.upstream.wall, n), perJob(size.ours.wall, n)
			ratio := float64(up) / float64(ours)
			fmt.Fprintf(&b, "  %d task(s) of %d job(s): upstream %.1f ms/job, aind-wrapper %.1f ms/job, ratio upstream/aind-wrapper = %.1f (target >= %.0f: %s)\n",
				size.tasks, size.perTask, ms(up), ms(ours), ratio, s.upTarget, verdict(ratio >= s.upTarget))
			fmt.Fprintf(&b, "    CPU per job: upstream %.1f ms its own + %.1f ms the servers'; aind-wrapper %.1f ms + %.1f ms\n",
				ms(perJob(size.upstream.own, n)), ms(perJob(size.upstream.servers, n)), ms(perJob(size.ours.own, n)), ms(perJob(size.ours.servers, n)))
		}
	}
	fmt.Fprintf(&b, "(bench/pipeline took %s)\n", time.Since(r.started).Round(time.Second))
	return b.String()
}

// kinds lists the requests per job by kind, the largest first.
func kinds(r requests, n int) string {
	type kv struct {
		k string
		v int64
	}
	var all []kv
	for k, v := range r.byKind {
		all = append(all, kv{k, v})
	}
	for i := range all { // insertion sort: a dozen kinds
		for j := i; j > 0 && (all[j].v > all[j-1].v || (all[j].v == all[j-1].v && all[j].k < all[j-1].k)); j-- {
			all[j], all[j-1] = all[j-1], all[j]
		}
	}
	var parts []string
	for _, e := range all {
		parts = append(parts, fmt.Sprintf("%s %.2f", e.k, float64(e.v)/float64(n)))
	}
	return strings.Join(parts, ", ")
}

// save writes the report to <resultsDir>/pipeline-<UTC time>.txt.
func (r report) save(root, text string) error {
	dir := r.settings.resultsDir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(root, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, "pipeline-"+r.started.UTC().Format("2006-01-02T150405Z")+".txt")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "bench/pipeline: report in", path)
	return nil
}
