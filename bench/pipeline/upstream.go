package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// peerResult compares the upstream wrapper with aind-wrapper on the same job files, one
// process per task as the pipeline runs them, at two task sizes: one job per task (the
// upstream's default, --tasks_per_job 1: its imports are paid per job) and a task of
// several jobs (they are paid once per task). Both publish to S3 and record through the
// devstack's DocDB gateway (the only way the upstream client reaches DocDB), in rounds
// that alternate which goes first.
type peerResult struct {
	sizes []peerSize
}

// peerSize is one task size: jobs per task, tasks per round, and each round's times (the
// sums over its tasks' processes) for each tool.
type peerSize struct {
	perTask, tasks int
	ours, upstream peerTimes
}

// peerTimes are one tool's times, one entry per round: wall time, the CPU time of its
// processes (user + system, with the children they waited for, as wait4 reports it), and
// the CPU time the devstack's servers used meanwhile (FerretDB, the gateway, versitygw).
type peerTimes struct {
	wall, own, servers []time.Duration
}

// add appends one round's sums.
func (p *peerTimes) add(r peerRun) {
	p.wall, p.own, p.servers = append(p.wall, r.wall), append(p.own, r.own), append(p.servers, r.servers)
}

// peerRun is what one or more tool processes took.
type peerRun struct{ wall, own, servers time.Duration }

func (r *peerRun) plus(o peerRun) {
	r.wall, r.own, r.servers = r.wall+o.wall, r.own+o.own, r.servers+o.servers
}

// timed runs cmd with output (cmd.Output or cmd.CombinedOutput) and returns its wall and
// CPU times with the servers' CPU meanwhile, and what output returned.
func timed(ds *devstack, cmd *exec.Cmd, output func() ([]byte, error)) (peerRun, []byte, error) {
	var r peerRun
	before, err := ds.cpu()
	if err != nil {
		return r, nil, err
	}
	start := time.Now()
	b, err := output()
	r.wall = time.Since(start)
	if after, cerr := ds.cpu(); cerr == nil {
		r.servers = after - before
	}
	if cmd.ProcessState != nil {
		r.own = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	return r, b, err
}

func (p peerSize) jobs() int { return p.perTask * p.tasks }

// perJob is the median wall time per job over the rounds.
func perJob(walls []time.Duration, jobs int) time.Duration {
	s := append([]time.Duration(nil), walls...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)/2] / time.Duration(jobs)
}

// singleJobTasks is how many one-job tasks each round runs per tool.
const singleJobTasks = 5

// compareUpstream takes the first job files of r's dispatch and runs them through both.
func compareUpstream(ctx context.Context, t tools, ds *devstack, tmp string, r sizeRun, s settings) (peerResult, error) {
	var p peerResult
	files, err := filepath.Glob(filepath.Join(r.dispatchDir, "results", "*", "job_*.json"))
	if err != nil || len(files) < max(s.upstreamJobs, singleJobTasks) {
		return p, fmt.Errorf("want %d job files in %s/results, found %d (%v)", s.upstreamJobs, r.dispatchDir, len(files), err)
	}
	sort.Strings(files)
	dir := filepath.Join(tmp, "peer")
	input := filepath.Join(dir, "input")
	if err := os.MkdirAll(input, 0o755); err != nil {
		return p, err
	}
	out, err := command(ctx, t.root, "scripts/install-deps", "--python-peers").Output()
	if err != nil {
		return p, fmt.Errorf("scripts/install-deps --python-peers: %w", err)
	}
	python := filepath.Join(strings.TrimSpace(string(out)), "bin", "python")
	gateway := ds.env["DEVSTACK_DOCDB_HOST"]
	if gateway == "" {
		return p, fmt.Errorf("the devstack printed no DEVSTACK_DOCDB_HOST (its DocDB gateway is off)")
	}
	env := gatewayEnv(ds)
	for _, size := range []peerSize{{perTask: 1, tasks: singleJobTasks}, {perTask: s.upstreamJobs, tasks: 1}} {
		var tasks [][]string // job file paths per task
		for i := range size.tasks {
			taskDir := filepath.Join(dir, fmt.Sprintf("jobs-%dx%d-%d", size.tasks, size.perTask, i))
			paths, err := copyJobs(files[i*size.perTask:(i+1)*size.perTask], taskDir)
			if err != nil {
				return p, err
			}
			tasks = append(tasks, paths)
		}
		for k := range s.rounds {
			name := fmt.Sprintf("%dx%d_r%d", size.tasks, size.perTask, k)
			progress("upstream comparison, %d task(s) of %d job(s), round %d of %d", size.tasks, size.perTask, k+1, s.rounds)
			ours := func() error {
				var sum peerRun
				for i, jobs := range tasks {
					r, err := runOurs(ctx, t, ds, env, filepath.Join(dir, fmt.Sprintf("ours-%s-%d", name, i)), filepath.Dir(jobs[0]), input, gateway, name)
					if err != nil {
						return err
					}
					sum.plus(r)
				}
				size.ours.add(sum)
				return nil
			}
			upstream := func() error {
				var sum peerRun
				for i, jobs := range tasks {
					r, err := runUpstream(ctx, t, ds, env, python, filepath.Join(dir, fmt.Sprintf("upstream-%s-%d", name, i)), jobs, gateway, name)
					if err != nil {
						return err
					}
					sum.plus(r)
				}
				size.upstream.add(sum)
				return nil
			}
			order := []func() error{upstream, ours}
			if k%2 == 1 {
				order[0], order[1] = ours, upstream
			}
			for _, f := range order {
				if err := f(); err != nil {
					return p, err
				}
			}
		}
		p.sizes = append(p.sizes, size)
	}
	return p, nil
}

// copyJobs copies job files into dir and returns their new paths.
func copyJobs(files []string, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		dst := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return nil, err
		}
		out = append(out, dst)
	}
	return out, nil
}

// gatewayEnv is the devstack's environment with DocDB reached through its gateway only
// (the tools refuse both DOCDB_URI and DOCDB_HOST).
func gatewayEnv(ds *devstack) []string {
	var env []string
	for _, kv := range ds.environ(nil) {
		if !strings.HasPrefix(kv, "DOCDB_URI=") {
			env = append(env, kv)
		}
	}
	return env
}

// runOurs runs aind-wrapper over the job folder jobDir (one process) and returns its
// times; every job must be published and recorded.
func runOurs(ctx context.Context, t tools, ds *devstack, env []string, out, jobDir, input, gateway, name string) (peerRun, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(t.bin, "aind-wrapper"), "run", "--input_directory="+input,
		"--job_dict="+jobDir, "--output_directory="+out, "--scratch_directory="+out+"-scratch", "--dry_run=0",
		"--code_url="+benchCode, "--code_version=1", "--docdb_host="+gateway, "--docdb_version=v1",
		"--results_database=benchpeer", "--results_collection=ours_"+name,
		"--analysis_bucket=s3://aind-analysis/peer-ours-"+name, "--log-level=warn", "--", "true")
	cmd.Env = env
	r, b, err := timed(ds, cmd, cmd.CombinedOutput)
	if err != nil || !strings.Contains(string(b), " 0 skipped as done, 0 failed") {
		return r, fmt.Errorf("aind-wrapper: %v\n%s", err, b)
	}
	return r, nil
}

// runUpstream runs testdata/upstream/upstream_wrapper.py (analysis-pipeline-utils' own
// functions, as its run_analysis_jobs calls them) over jobs (one process) and returns its
// times; every job must be recorded.
func runUpstream(ctx context.Context, t tools, ds *devstack, env []string, python, out string, jobs []string, gateway, name string) (peerRun, error) {
	cfg, err := json.Marshal(map[string]any{
		"jobs": jobs, "parameters": map[string]any{},
		"code":    map[string]string{"url": benchCode, "name": "pipeline", "version": "1", "run_script": "code/run"},
		"bucket":  "aind-analysis/peer-upstream-" + name,
		"results": out, "outputs": map[string]any{},
	})
	if err != nil {
		return peerRun{}, err
	}
	cfgFile := out + ".json"
	if err := os.WriteFile(cfgFile, cfg, 0o644); err != nil {
		return peerRun{}, err
	}
	cmd := exec.CommandContext(ctx, python, filepath.Join(t.root, "testdata", "upstream", "upstream_wrapper.py"), cfgFile)
	cmd.Env = append(env, "DOCDB_HOST="+strings.TrimPrefix(gateway, "http://"), "DOCDB_VERSION=v1",
		"DOCDB_DATABASE=benchpeer", "DOCDB_COLLECTION=upstream_"+name, "AWS_DEFAULT_REGION=us-east-1")
	r, b, err := timed(ds, cmd, cmd.Output)
	if err != nil || strings.Count(string(b), `"hash"`) != len(jobs) {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		return r, fmt.Errorf("the upstream wrapper (%v) recorded %d of %d jobs:\n%s\n%s", err, strings.Count(string(b), `"hash"`), len(jobs), b, stderr)
	}
	return r, nil
}
