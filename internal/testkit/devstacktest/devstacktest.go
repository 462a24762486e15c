// Package devstacktest starts the project's devstack for integration tests.
//
// The devstack (see devstack/ at the repository root) is an embedded FerretDB
// standing in for DocDB plus a versitygw S3 server, seeded from
// testdata/devstack. One devstack is shared by all tests of a package:
//
//	func TestMain(m *testing.M) { os.Exit(devstacktest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		env := devstacktest.Get(t)
//		env.Setenv(t) // DOCDB_URI, AWS_* ... for code that reads the environment
//		bucket := env.NewBucket(t)
//		...
//	}
//
// The first use on a machine installs versitygw (go install, minutes of
// compiling) before starting; later starts take about a second.
//
// DocDB is reached either with the Mongo driver (DOCDB_URI) or through the devstack's
// HTTP gateway (DOCDB_HOST); $AIND_TEST_DOCDB=mongo|gateway (default mongo) chooses which
// for Vars (the devstack runs with --docdb-client=<choice>), Setenv, DocDBVars, DocDBFlags
// and OpenDocDB, so one switch runs the integration tests on either. Env.DocDBURI and
// Env.DocDBHost are always both set.
//
// Environment: $AIND_DEVSTACK_BIN uses a prebuilt aind-devstack instead of
// building it; $AIND_DEVSTACK_START_TIMEOUT (a Go duration, default 180s)
// bounds the wait for it to become ready (the versitygw install before it has
// its own 10 minute bound); $AIND_DEVSTACK_CACHE and $VERSITYGW_BIN are
// passed through to aind-devstack, and so is $AIND_DEVSTACK_COUNT_REQUESTS=1, which
// turns on its request counters (--count-requests; Env.RequestsURL serves them). Counting
// puts a proxy in front of S3 and DocDB; running a package's tests with it on checks that
// the proxies change nothing the tests see.
package devstacktest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// defaultStartTimeout bounds the wait for DEVSTACK_READY=1.
const defaultStartTimeout = 180 * time.Second

// installTimeout bounds the one-time versitygw install (go install compiles it;
// about 2.5 CPU-minutes, 3-4 minutes on a busy 2-core machine).
const installTimeout = 10 * time.Minute

// Env is a running devstack's client settings (the KEY=VALUE lines it printed).
type Env struct {
	Vars                         map[string]string // every line printed, e.g. Vars["DOCDB_URI"]
	DocDBURI                     string
	S3Endpoint                   string
	AccessKey, SecretKey, Region string
	AnalysisBucket               string // "s3://aind-analysis"
	DocDBHost, DocDBVersion      string // the devstack's DocDB HTTP gateway (DOCDB_HOST, DOCDB_VERSION)
	// RequestsURL is the devstack's request counts endpoint (DEVSTACK_REQUESTS_URL; see
	// devstack/README.md), "" unless $AIND_DEVSTACK_COUNT_REQUESTS turned counting on.
	RequestsURL string
}

// process is the shared aind-devstack child.
type process struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stderr  *syncBuffer
	done    chan struct{} // closed once the process has exited
	waitErr error         // valid after done is closed
	env     *Env
}

var (
	mu        sync.Mutex
	attempted bool     // a start was attempted (at most one per test process)
	shared    *process // the running devstack, if the start succeeded
	startErr  error    // why the start failed
)

// Main runs the package's tests and stops the devstack if one was started; use as
// func TestMain(m *testing.M) { os.Exit(devstacktest.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	p := shared
	shared = nil
	mu.Unlock()
	if p != nil {
		if err := p.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "devstacktest: %v\naind-devstack stderr (tail):\n%s\n", err, tail(p.stderr.String(), 40))
		}
	}
	return code
}

// Get returns the package's shared devstack (seeded from testdata/devstack), starting it on first use.
// It calls t.Skip only under `go test -short`; otherwise a devstack that cannot start fails the test (t.Fatal) with its stderr.
func Get(t testing.TB) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("devstacktest: integration test needs the devstack; skipped under -short")
	}
	mu.Lock()
	defer mu.Unlock()
	if !attempted {
		attempted = true
		shared, startErr = start()
	}
	if startErr != nil {
		t.Fatalf("devstacktest: %v", startErr)
	}
	select {
	case <-shared.done:
		t.Fatalf("devstacktest: aind-devstack exited early (%v); stderr:\n%s", shared.waitErr, shared.stderr.String())
	default:
	}
	return shared.env
}

// RepoRoot returns the repository root (found by walking up from the working dir to the dir holding devstack/go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("devstacktest: %v", err)
	}
	return root
}

// repoRoot walks up from the working directory to the directory holding devstack/go.mod.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("get working dir: %w", err)
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "devstack", "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no devstack/go.mod in %s or any parent directory", wd)
		}
		dir = parent
	}
}

// start builds (unless $AIND_DEVSTACK_BIN is set) and starts aind-devstack and
// waits for DEVSTACK_READY=1.
func start() (*process, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	timeout := defaultStartTimeout
	if s := os.Getenv("AIND_DEVSTACK_START_TIMEOUT"); s != "" {
		if timeout, err = time.ParseDuration(s); err != nil {
			return nil, fmt.Errorf("parse AIND_DEVSTACK_START_TIMEOUT: %w", err)
		}
	}

	bin := os.Getenv("AIND_DEVSTACK_BIN")
	if bin == "" {
		tmp, err := os.MkdirTemp("", "aind-devstacktest-")
		if err != nil {
			return nil, fmt.Errorf("create build dir: %w", err)
		}
		// The binary is unlinked once started (Linux keeps running it), so
		// nothing is left behind even without Main.
		defer os.RemoveAll(tmp)
		bin = filepath.Join(tmp, "aind-devstack")
		build := exec.Command("go", "build", "-C", filepath.Join(root, "devstack"), "-o", bin, ".")
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build aind-devstack (go build -C %s/devstack): %w\n%s", root, err, out)
		}
	}

	// Install versitygw first (a no-op once cached) so the cold compile, which
	// can take longer than the start timeout on a busy machine, is not counted.
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	install := exec.CommandContext(ctx, bin, "--install-only")
	install.Dir = root
	install.SysProcAttr = sysProcAttr()
	if out, err := install.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("install versitygw (aind-devstack --install-only): %w\n%s", err, out)
	}

	stderr := &syncBuffer{}
	cmd := exec.Command(bin, "--seed", filepath.Join(root, "testdata", "devstack"), "--stdin-close-stops", "--docdb-gateway-test-faults",
		"--docdb-client="+DocDBBackend())
	cmd.Dir = root
	cmd.Stderr = stderr
	cmd.SysProcAttr = sysProcAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("aind-devstack stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("aind-devstack stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &process{cmd: cmd, stdin: stdin, stderr: stderr, done: make(chan struct{})}

	// Read stdout before Wait may close it; Wait runs once the reader is done.
	vars := make(map[string]string)
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		signaled := false
		for sc.Scan() {
			line := sc.Text()
			if signaled {
				continue // keep draining
			}
			if line == "DEVSTACK_READY=1" {
				signaled = true
				ready <- nil
				continue
			}
			if k, v, ok := strings.Cut(line, "="); ok && k != "" {
				vars[k] = v
			}
		}
		if !signaled {
			ready <- errors.New("aind-devstack closed stdout before DEVSTACK_READY=1")
		}
		p.waitErr = cmd.Wait()
		close(p.done)
	}()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err = <-ready:
	case <-timer.C:
		err = fmt.Errorf("no DEVSTACK_READY=1 within %s (raise AIND_DEVSTACK_START_TIMEOUT on a slow machine)", timeout)
	}
	if err != nil {
		_ = cmd.Process.Kill()
		<-p.done
		return nil, fmt.Errorf("%w (exit: %v)\naind-devstack stderr:\n%s", err, p.waitErr, stderr.String())
	}

	env := &Env{
		Vars:           vars,
		DocDBURI:       vars["DOCDB_URI"] + vars["DEVSTACK_DOCDB_URI"], // one of them is set
		S3Endpoint:     vars["AWS_ENDPOINT_URL_S3"],
		AccessKey:      vars["AWS_ACCESS_KEY_ID"],
		SecretKey:      vars["AWS_SECRET_ACCESS_KEY"],
		Region:         vars["AWS_REGION"],
		AnalysisBucket: vars["ANALYSIS_BUCKET"],
		DocDBHost:      vars["DOCDB_HOST"] + vars["DEVSTACK_DOCDB_HOST"],
		DocDBVersion:   vars["DOCDB_VERSION"] + vars["DEVSTACK_DOCDB_VERSION"],
		RequestsURL:    vars["DEVSTACK_REQUESTS_URL"],
	}
	for k, v := range map[string]string{"DOCDB_URI": env.DocDBURI, "AWS_ENDPOINT_URL_S3": env.S3Endpoint,
		"AWS_ACCESS_KEY_ID": env.AccessKey, "AWS_SECRET_ACCESS_KEY": env.SecretKey, "AWS_REGION": env.Region,
		"DOCDB_HOST": env.DocDBHost} {
		if v == "" {
			p.stop()
			return nil, fmt.Errorf("aind-devstack printed no %s; stderr:\n%s", k, stderr.String())
		}
	}
	p.env = env
	return p, nil
}

// stop closes stdin (aind-devstack runs with --stdin-close-stops), then falls
// back to SIGTERM and SIGKILL, and waits for the exit.
func (p *process) stop() error {
	_ = p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
			return errors.New("aind-devstack ignored stdin EOF and SIGTERM; killed")
		}
	}
	if p.waitErr != nil {
		return fmt.Errorf("aind-devstack exited with %w", p.waitErr)
	}
	return nil
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns the contents.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ctxTimeout returns a context for cleanup work, which runs after t.Context is canceled.
func ctxTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}
