package nextflow

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The slurm profile on a real SLURM cluster: scripts/slurm-cluster's (munged, slurmctld and
// two slurmd on loopback). $SLURM_CONF names a running one (scripts/test brings it up with
// --slurmd-timeout 10); else the first test starts one in a temporary folder and TestMain
// stops it. No cluster is a failure, not a skip: these tests are the slurm profile's only run.

const projectClusterMark = "# Written by scripts/slurm-cluster"

var (
	slurmOnce    sync.Once
	slurmConf    string // the cluster's slurm.conf
	slurmErr     error
	slurmStarted string // the folder of a cluster these tests started (TestMain stops it)
)

// slurmCluster returns the SLURM_CONF of the project's test cluster, starting one if none runs.
func slurmCluster(t *testing.T) string {
	t.Helper()
	slurmOnce.Do(func() {
		if c := os.Getenv("SLURM_CONF"); c != "" {
			b, err := os.ReadFile(c)
			if err != nil || !strings.HasPrefix(string(b), projectClusterMark) {
				slurmErr = fmt.Errorf("SLURM_CONF=%s is not a cluster of scripts/slurm-cluster (the node-loss test restarts its daemons); unset it to let the tests start one: %v", c, err)
				return
			}
			slurmConf = c
			return
		}
		dir, err := os.MkdirTemp("", "aind-slurm-")
		if err != nil {
			slurmErr = err
			return
		}
		if out, err := exec.Command("../scripts/slurm-cluster", "up", "--dir", dir, "--env-file", filepath.Join(dir, "env"),
			"--slurmd-timeout", "10", "--ports", "auto").CombinedOutput(); err != nil {
			slurmErr = fmt.Errorf("scripts/slurm-cluster up: %v\n%s", err, out)
			_ = os.RemoveAll(dir)
			return
		}
		slurmStarted, slurmConf = dir, filepath.Join(dir, "etc", "slurm.conf")
	})
	if slurmErr != nil {
		t.Fatal(slurmErr)
	}
	return slurmConf
}

// stopSlurmCluster stops the cluster slurmCluster started, if any (from TestMain).
func stopSlurmCluster() {
	if slurmStarted == "" {
		return
	}
	if out, err := exec.Command("../scripts/slurm-cluster", "down", "--dir", slurmStarted).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "scripts/slurm-cluster down: %v\n%s", err, out)
	}
	_ = os.RemoveAll(slurmStarted)
}

// slurmPipeline is a pipeline whose runs use -profile test,slurm on the project's cluster,
// with a config that polls fast (a test waits seconds, not the profile's minutes).
type slurmPipeline struct {
	*pipeline
	conf string // SLURM_CONF
	fast string // the extra -c config
}

func newSlurmPipeline(t *testing.T) *slurmPipeline {
	t.Helper()
	conf := slurmCluster(t)
	p := newPipeline(t)
	p.env["SLURM_CONF"] = conf
	fast := filepath.Join(t.TempDir(), "fast-polling.config")
	err := os.WriteFile(fast, []byte(`executor {
    pollInterval      = '500 ms'
    queueStatInterval = '2 sec'
    exitReadTimeout   = '15 sec'
}
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return &slurmPipeline{pipeline: p, conf: conf, fast: fast}
}

// run is `nextflow run` with -profile test,slurm, the fast config, env and args.
func (p *slurmPipeline) run(env map[string]string, args ...string) run {
	p.t.Helper()
	return p.nextflow(env, append([]string{"run", p.root, "--outdir", p.outdir, "-profile", "test,slurm", "-c", p.fast}, args...)...)
}

// slurm runs a SLURM client command (scontrol, squeue, scancel) on the cluster.
func (p *slurmPipeline) slurm(name string, args ...string) string {
	p.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "SLURM_CONF="+p.conf)
	out, err := cmd.CombinedOutput()
	if err != nil {
		p.t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

var jobField = regexp.MustCompile(`(\w+)=(\S*)`)

// job returns the fields of `scontrol show job -o ID` (JobState, NodeList, ...).
func (p *slurmPipeline) job(id string) map[string]string {
	p.t.Helper()
	fields := map[string]string{}
	for _, m := range jobField.FindAllStringSubmatch(p.slurm("scontrol", "show", "job", "-o", id), -1) {
		fields[m[1]] = m[2]
	}
	return fields
}

// checkOneResultEach checks that each of want jobs ended with exactly one result and one
// record: want results published and verified, a record for each and nothing else, and in
// the bucket under each <hash>/ exactly the manifest's objects (no leftover of a killed attempt).
func (p *slurmPipeline) checkOneResultEach(want int) {
	p.t.Helper()
	results, markers := p.published()
	if len(results) != want || len(markers) != 0 {
		p.t.Fatalf("published %v and markers %v, want %d results", results, markers, want)
	}
	for _, h := range results {
		p.verifyResult(h)
	}
	if recs := p.records(); !equal(recs, results) {
		p.t.Fatalf("records %v, results %v: want one record per result", recs, results)
	}
	s3c := p.ds.S3(p.t)
	for _, h := range results {
		var m struct {
			Files []struct {
				Path string `json:"path"`
			} `json:"files"`
		}
		b, err := os.ReadFile(filepath.Join(p.outdir, h, "manifest.json"))
		if err != nil || json.Unmarshal(b, &m) != nil {
			p.t.Fatalf("result %s: manifest: %v", h, err)
		}
		want := []string{h + "/manifest.json"}
		for _, f := range m.Files {
			want = append(want, h+"/"+f.Path)
		}
		var got []string
		pages := s3.NewListObjectsV2Paginator(s3c, &s3.ListObjectsV2Input{Bucket: aws.String(p.bucket), Prefix: aws.String(h + "/")})
		for pages.HasMorePages() {
			page, err := pages.NextPage(context.Background())
			if err != nil {
				p.t.Fatal(err)
			}
			for _, o := range page.Contents {
				got = append(got, aws.ToString(o.Key))
			}
		}
		if !equal(got, want) {
			p.t.Errorf("s3://%s/%s/ holds %v, want the manifest's %v", p.bucket, h, sorted(got), sorted(want))
		}
	}
}

// TestNextflowSlurm: -profile test,slurm on the cluster: every task is a SLURM job (its
// trace native_id a job id that scontrol shows COMPLETED on one of the cluster's nodes),
// every job's result is published, verified and recorded once; a rerun runs DISPATCH only.
func TestNextflowSlurm(t *testing.T) {
	p := newSlurmPipeline(t)
	r := p.run(nil)
	if r.exit != 0 || r.count("DISPATCH", "COMPLETED") != 1 || r.count("WRAPPER", "COMPLETED") != testProfileJobs || len(r.tasks) != 1+testProfileJobs {
		t.Fatalf("want DISPATCH and %d WRAPPER tasks completed: %s", testProfileJobs, r)
	}
	nodes := map[string]bool{}
	for _, task := range r.tasks {
		if _, err := strconv.Atoi(task.NativeID); err != nil {
			t.Fatalf("task %+v: native_id %q is not a SLURM job id", task, task.NativeID)
		}
		job := p.job(task.NativeID)
		if job["JobState"] != "COMPLETED" || !regexp.MustCompile(`^n\d+$`).MatchString(job["NodeList"]) || job["WorkDir"] != task.Workdir {
			t.Errorf("task %s (%s): SLURM job %s is %s on %q in %s, want COMPLETED on a node of the cluster in the task's workdir",
				task.Process, task.Tag, task.NativeID, job["JobState"], job["NodeList"], job["WorkDir"])
		}
		nodes[job["NodeList"]] = true
	}
	t.Logf("tasks ran on nodes %v", nodes)
	p.checkOneResultEach(testProfileJobs)

	again := p.run(nil)
	if again.exit != 0 || again.count("DISPATCH", "COMPLETED") != 1 || len(again.tasks) != 1 {
		t.Fatalf("rerun: want DISPATCH only (every job done): %s", again)
	}
	if _, err := strconv.Atoi(again.tasks[0].NativeID); err != nil {
		t.Errorf("rerun's DISPATCH native_id %q is not a SLURM job id", again.tasks[0].NativeID)
	}
	if recs := p.records(); len(recs) != testProfileJobs {
		t.Fatalf("rerun changed the records: %v", recs)
	}
}

// gatedAnalysis writes an analysis that, on a job's first attempt, records the SLURM job
// and node it runs in (<gate>/<job hash>.started: "JOBID NODE") and then waits until
// <gate>/open exists (at most 120 s); then, and on later attempts, it writes a result.
func gatedAnalysis(t *testing.T, gate string) string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "gated.sh")
	err := os.WriteFile(script, []byte(`#!/bin/sh
set -eu
started="$GATE/$AIND_JOB_HASH.started"
if [ ! -e "$started" ]; then
  echo "$SLURM_JOB_ID $SLURMD_NODENAME" > "$started.tmp" && mv "$started.tmp" "$started"
  i=0
  while [ ! -e "$GATE/open" ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i + 1)); done
fi
echo "done" > "$AIND_OUTPUT_DIR/done.txt"
echo '{"n_files": 0}' > "$AIND_OUTPUTS_FILE"
`), 0o755)
	if err != nil {
		t.Fatal(err)
	}
	return script
}

// started waits (at most 120 s) until n first attempts have started and returns them:
// job hash -> [SLURM job id, node].
func started(t *testing.T, gate string, n int, done <-chan run) map[string][2]string {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(gate, "*.started"))
		if len(files) >= n {
			m := map[string][2]string{}
			for _, f := range files {
				b, err := os.ReadFile(f)
				id, node, ok := strings.Cut(strings.TrimSpace(string(b)), " ")
				if err != nil || !ok {
					t.Fatalf("%s: %q %v", f, b, err)
				}
				m[strings.TrimSuffix(filepath.Base(f), ".started")] = [2]string{id, node}
			}
			return m
		}
		select {
		case r := <-done:
			t.Fatalf("the run ended before %d analyses started: %s", n, r)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d analyses started in 120 s (%v), want %d", len(files), files, n)
		}
	}
}

// retryArgs: retries soon (1 s backoff, doubled) and often enough to outlast a dead
// attempt's claim (AIND_CLAIM_LEASE below): 1+2+4+8+16 s.
var retryArgs = []string{"--max_retries", "5", "--retry_backoff_seconds", "1"}

// TestNextflowSlurmScancel: a running WRAPPER task cancelled from outside (scancel, as an
// admin or a preemption does: SIGTERM) is retried, and every job ends with exactly one
// result and one record; the analysis' own exit codes are not what is retried here.
func TestNextflowSlurmScancel(t *testing.T) {
	p := newSlurmPipeline(t)
	gate := t.TempDir()
	script := gatedAnalysis(t, gate)
	env := map[string]string{"GATE": gate, "AIND_CLAIM_LEASE": "10s"}
	done := make(chan run, 1)
	go func() { done <- p.run(env, append([]string{"--analysis_command", script}, retryArgs...)...) }()

	first := started(t, gate, 1, done)
	var victim, hash string
	for h, s := range first {
		hash, victim = h, s[0]
	}
	if st := p.job(victim)["JobState"]; st != "RUNNING" {
		t.Fatalf("SLURM job %s of job %s is %s, want RUNNING", victim, hash, st)
	}
	p.slurm("scancel", victim)
	// Let the others finish once the cancelled one has been seen to end.
	for deadline := time.Now().Add(60 * time.Second); p.job(victim)["JobState"] != "CANCELLED"; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("SLURM job %s not CANCELLED after scancel: %v", victim, p.job(victim))
		}
	}
	if err := os.WriteFile(filepath.Join(gate, "open"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.exit != 0 || r.count("WRAPPER", "COMPLETED") != testProfileJobs {
		t.Fatalf("want every job's WRAPPER task completed after the retry: %s", r)
	}
	var cancelled *task
	for i, task := range r.tasks {
		if task.NativeID == victim {
			cancelled = &r.tasks[i]
		}
	}
	if cancelled == nil || cancelled.Status != "FAILED" || cancelled.Attempt != 1 || cancelled.Exit < 130 || cancelled.Exit > 145 {
		t.Fatalf("the cancelled task %+v: want attempt 1 FAILED with a signal's exit (130-145): %s", cancelled, r)
	}
	retried := 0
	for _, task := range r.tasks {
		if task.Process == "WRAPPER" && task.Tag == cancelled.Tag && task.Status == "COMPLETED" && task.Attempt > 1 {
			retried++
		}
	}
	if retried != 1 {
		t.Fatalf("the cancelled task (%s) completed on %d later attempts, want 1: %s", cancelled.Tag, retried, r)
	}
	p.checkOneResultEach(testProfileJobs)
}

// TestNextflowSlurmNodeLost: a node lost mid-run (its slurmd, the jobs' slurmstepd and
// every process of its jobs killed with SIGKILL, as when the machine dies): slurmctld marks
// it DOWN after SlurmdTimeout and its jobs NODE_FAIL; Nextflow, finding no exit status,
// fails those tasks (exit Integer.MAX_VALUE) and retries them on the other node, where each
// waits out the dead attempt's claim. Every job ends with one result and one record. The
// cluster is restored afterwards.
func TestNextflowSlurmNodeLost(t *testing.T) {
	p := newSlurmPipeline(t)
	dir := filepath.Dir(filepath.Dir(p.conf))
	t.Cleanup(func() {
		// Restore the cluster: `up` finds a node missing and starts every daemon afresh.
		b, _ := os.ReadFile(p.conf)
		nodes := strings.Count(string(b), "\nNodeName=")
		timeout := regexp.MustCompile(`(?m)^SlurmdTimeout=(\d+)`).FindStringSubmatch(string(b))
		args := []string{"up", "--dir", dir, "--nodes", strconv.Itoa(nodes), "--env-file", filepath.Join(t.TempDir(), "env")}
		if timeout != nil {
			args = append(args, "--slurmd-timeout", timeout[1])
		}
		if port := regexp.MustCompile(`(?m)^SlurmctldPort=(\d+)`).FindStringSubmatch(string(b)); port != nil {
			args = append(args, "--ports", port[1]) // the ports it had: the tests' clients use its slurm.conf
		}
		if out, err := exec.Command("../scripts/slurm-cluster", args...).CombinedOutput(); err != nil {
			t.Errorf("restoring the cluster: scripts/slurm-cluster %v: %v\n%s", args, err, out)
		}
	})
	gate := t.TempDir()
	script := gatedAnalysis(t, gate)
	env := map[string]string{"GATE": gate, "AIND_CLAIM_LEASE": "10s"}
	done := make(chan run, 1)
	go func() { done <- p.run(env, append([]string{"--analysis_command", script}, retryArgs...)...) }()

	first := started(t, gate, testProfileJobs, done) // all three run: 2 nodes x 2 CPUs
	lost := first[sortedKeys(first)[0]][1]
	var lostJobs []string
	for _, s := range first {
		if s[1] == lost {
			lostJobs = append(lostJobs, s[0])
		}
	}
	p.killNode(dir, lost)
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		state := strings.TrimSpace(p.slurm("sinfo", "-h", "-N", "-n", lost, "-o", "%T"))
		if strings.HasPrefix(state, "down") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s is %q 90 s after it was killed, want down", lost, state)
		}
	}
	for _, id := range lostJobs {
		if st := p.job(id)["JobState"]; st != "NODE_FAIL" {
			t.Errorf("SLURM job %s on the lost node %s is %s, want NODE_FAIL", id, lost, st)
		}
	}
	if err := os.WriteFile(filepath.Join(gate, "open"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.exit != 0 || r.count("WRAPPER", "COMPLETED") != testProfileJobs {
		t.Fatalf("want every job's WRAPPER task completed: %s", r)
	}
	for _, id := range lostJobs {
		for _, task := range r.tasks {
			if task.NativeID == id && (task.Status != "FAILED" || task.Attempt != 1) {
				t.Errorf("task %+v on the lost node: want attempt 1 FAILED", task)
			}
		}
	}
	for _, task := range r.tasks {
		if task.Process == "WRAPPER" && task.Status == "COMPLETED" {
			if node := p.job(task.NativeID)["NodeList"]; node == lost {
				t.Errorf("task %+v completed on the lost node %s", task, lost)
			}
		}
	}
	p.checkOneResultEach(testProfileJobs)
}

// killNode kills node's slurmd and, like a machine dying, the slurmstepd of each job on it
// and every process of those jobs (found by SLURMD_NODENAME and this cluster's SLURM_CONF in
// their environment), all with SIGKILL.
func (p *slurmPipeline) killNode(dir, node string) {
	t := p.t
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "run", "slurmd-"+node+".pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	steps := map[string]bool{} // "slurmstepd: [ID." of each job on the node
	for _, id := range strings.Fields(p.slurm("squeue", "-h", "-w", node, "-o", "%i")) {
		steps["slurmstepd: ["+id+"."] = true
	}
	victims := []int{pid}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range procs {
		n, err := strconv.Atoi(filepath.Base(dir))
		if err != nil {
			continue
		}
		if cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
			for prefix := range steps {
				if strings.HasPrefix(string(cmdline), prefix) {
					victims = append(victims, n)
				}
			}
		}
		if b, err := os.ReadFile(filepath.Join(dir, "environ")); err == nil {
			env := "\x00" + string(b)
			if strings.Contains(env, "\x00SLURMD_NODENAME="+node+"\x00") && strings.Contains(env, "\x00SLURM_CONF="+p.conf+"\x00") {
				victims = append(victims, n)
			}
		}
	}
	for _, v := range victims {
		if proc, err := os.FindProcess(v); err == nil {
			_ = proc.Kill()
		}
	}
	t.Logf("node %s lost: killed slurmd %d and %d processes of jobs %v", node, pid, len(victims)-1, sortedKeys(steps))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
