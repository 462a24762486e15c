// Package upstreamtest runs the Python upstream (analysis-pipeline-utils, aind-data-schema,
// aind-data-access-api, pinned in testdata/upstream/requirements.txt) as a test oracle.
// `scripts/install-deps --python-peers` installs it into a venv under
// ${XDG_CACHE_HOME:-~/.cache}/aind-python-peers/<first 16 hex of the file's SHA-256>/; a test
// that needs it and does not find it fails, naming that command. Never a dependency of the
// binaries.
package upstreamtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/devstacktest"
)

// InstallCommand is the command that installs the venv Python finds.
const InstallCommand = "scripts/install-deps --python-peers"

// Dir returns testdata/upstream, where the requirements and the Python harness scripts are.
func Dir(t testing.TB) string {
	t.Helper()
	return filepath.Join(devstacktest.RepoRoot(t), "testdata", "upstream")
}

// Venv returns the venv of the pinned requirements; it fails t, naming InstallCommand, when
// that venv is not installed (or was installed from other requirements).
func Venv(t testing.TB) string {
	t.Helper()
	req, err := os.ReadFile(filepath.Join(Dir(t), "requirements.txt"))
	if err != nil {
		t.Fatalf("upstreamtest: %v", err)
	}
	sum := sha256.Sum256(req)
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatalf("upstreamtest: %v", err)
		}
		cache = filepath.Join(home, ".cache")
	}
	venv := filepath.Join(cache, "aind-python-peers", hex.EncodeToString(sum[:])[:16])
	if _, err := os.Stat(filepath.Join(venv, ".complete")); err != nil {
		t.Fatalf("upstreamtest: the Python upstream is not installed for testdata/upstream/requirements.txt (%v): run %s", err, InstallCommand)
	}
	return venv
}

// Python returns the venv's python interpreter (see Venv).
func Python(t testing.TB) string {
	t.Helper()
	return filepath.Join(Venv(t), "bin", "python")
}

// Result is a finished Python run.
type Result struct {
	Code           int
	Stdout, Stderr []byte
}

// Run runs the harness script (a file name in testdata/upstream) with args, the current
// environment plus env, from dir ("" for the harness folder), and returns how it ended;
// a failure to start fails t.
func Run(t testing.TB, dir string, env map[string]string, script string, args ...string) Result {
	t.Helper()
	py := Python(t)
	cmd := exec.Command(py, append([]string{filepath.Join(Dir(t), script)}, args...)...)
	cmd.Dir = dir
	if dir == "" {
		cmd.Dir = Dir(t)
	}
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("upstreamtest: running %s %s: %v", py, script, err)
	}
	return res
}
