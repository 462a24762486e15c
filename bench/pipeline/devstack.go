package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// tools are the binaries and launchers the bench runs.
type tools struct {
	bin      string // aind-dispatch, aind-wrapper, ... (put first on the tasks' PATH)
	devstack string
	seed     string
	nextflow string // the pinned Nextflow's launcher (scripts/install-deps --nextflow)
	root     string
}

// build compiles the tools into tmp/bin and finds the Nextflow launcher.
func build(ctx context.Context, root, tmp string) (tools, error) {
	t := tools{bin: filepath.Join(tmp, "bin"), root: root}
	t.devstack, t.seed = filepath.Join(t.bin, "aind-devstack"), filepath.Join(t.bin, "seed")
	progress("building the tools into %s", t.bin)
	steps := [][]string{
		{"go", "build", "-o", t.bin + "/", "./cmd/..."},
		{"go", "build", "-o", t.seed, "./bench/seed"},
		{"go", "-C", "devstack", "build", "-o", t.devstack, "."},
	}
	for _, s := range steps {
		if out, err := command(ctx, root, s...).CombinedOutput(); err != nil {
			return t, fmt.Errorf("%s: %w\n%s", strings.Join(s, " "), err, out)
		}
	}
	out, err := command(ctx, root, "scripts/install-deps", "--nextflow").Output()
	if err != nil {
		return t, fmt.Errorf("scripts/install-deps --nextflow: %w", err)
	}
	t.nextflow = strings.TrimSpace(string(out))
	return t, nil
}

func command(ctx context.Context, dir string, argv ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.Dir = dir
	c.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	return c
}

// devstack is a running aind-devstack and the environment it printed.
type devstack struct {
	cmd *exec.Cmd
	env map[string]string
	dir string
}

// startDevstack starts the devstack with its request counters, data under dir, and waits
// for its env file.
func startDevstack(ctx context.Context, t tools, dir string) (*devstack, error) {
	progress("starting the devstack (data in %s)", dir)
	envFile := filepath.Join(dir, "devstack.env")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "devstack.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(t.devstack, "--dir", filepath.Join(dir, "data"), "--env-file", envFile, "--count-requests")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ds := &devstack{cmd: cmd, dir: dir}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(10 * time.Minute) // a cold versitygw build takes minutes
	for {
		if env, err := readEnvFile(envFile); err == nil && env["DEVSTACK_READY"] == "1" {
			ds.env = env
			break
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("the devstack exited (%v); see %s", err, logf.Name())
		case <-deadline:
			ds.stop()
			return nil, fmt.Errorf("the devstack did not start in 10 minutes; see %s", logf.Name())
		case <-ctx.Done():
			ds.stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	if ds.env["DEVSTACK_REQUESTS_URL"] == "" {
		ds.stop()
		return nil, fmt.Errorf("the devstack printed no DEVSTACK_REQUESTS_URL: its request counters are off")
	}
	return ds, nil
}

func (d *devstack) stop() {
	if d.cmd.Process != nil {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _, _ = d.cmd.Process.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = d.cmd.Process.Kill()
		}
	}
}

// readEnvFile reads the devstack's "export KEY=VALUE" lines.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if ok {
			env[k] = v
		}
	}
	return env, sc.Err()
}

// environ is the environment of the tools and Nextflow: the devstack's, plus extra.
func (d *devstack) environ(extra map[string]string) []string {
	env := os.Environ()
	for k, v := range d.env {
		env = append(env, k+"="+v)
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// requests are the devstack's request counts since the last reset.
type requests struct {
	S3, DocDB int64 // DocDB: commands other than the drivers' heartbeats and handshakes
	// Conns are the connections the servers accepted (S3, Mongo wire).
	S3Conns, DocDBConns int64
	byKind              map[string]int64
}

// counters reads (and, with reset, zeroes) the devstack's request counts.
func (d *devstack) counters(ctx context.Context, reset bool) (requests, error) {
	u := d.env["DEVSTACK_REQUESTS_URL"]
	method := http.MethodGet
	if reset {
		method, u = http.MethodPost, strings.TrimSuffix(u, "/")+"/reset"
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return requests{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return requests{}, fmt.Errorf("reading the devstack's request counts: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return requests{}, fmt.Errorf("reading the devstack's request counts: %s", resp.Status)
	}
	var raw countsDoc
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		return requests{}, fmt.Errorf("decoding the devstack's request counts: %w", err)
	}
	return raw.requests(), nil
}

// cpu returns the CPU time (user + system) the devstack process (FerretDB runs in it) and
// its children (versitygw) have used so far.
func (d *devstack) cpu() (time.Duration, error) {
	pid := d.cmd.Process.Pid
	pids := []int{pid}
	threads, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range threads {
		b, _ := os.ReadFile(f)
		for _, c := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(c); err == nil {
				pids = append(pids, p)
			}
		}
	}
	var total time.Duration
	for _, p := range pids {
		t, err := processCPU(p)
		if err != nil {
			return 0, err
		}
		total += t
	}
	return total, nil
}

// processCPU reads utime + stime of pid from /proc/<pid>/stat (clock ticks of 1/100 s,
// the USER_HZ Linux reports on every architecture it runs on here).
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after it start past ")".
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}
