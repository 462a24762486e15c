// Package clitest builds the project's binaries once per test process and runs them the
// way a user or a pipeline does: a clean environment, exit code, stdout and stderr kept
// apart. End-to-end tests of cmd/* and the pipeline checks use it.
package clitest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Build compiles each package (import paths or ./relative dirs) into a temporary folder
// and returns the binaries by base name, and a cleanup to call after the tests. Use it in
// TestMain: a build failure panics with the compiler's output.
func Build(pkgs ...string) (map[string]string, func()) {
	dir, err := os.MkdirTemp("", "aind-bin-")
	if err != nil {
		panic(err)
	}
	bins := map[string]string{}
	for _, p := range pkgs {
		name := filepath.Base(p)
		if p == "." {
			wd, _ := os.Getwd()
			name = filepath.Base(wd)
		}
		bins[name] = filepath.Join(dir, name)
		if out, err := exec.Command("go", "build", "-o", bins[name], p).CombinedOutput(); err != nil {
			panic(fmt.Sprintf("building %s: %v\n%s", p, err, out))
		}
	}
	return bins, func() { _ = os.RemoveAll(dir) }
}

// Result is a finished run.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Command returns the command for bin with only PATH, HOME and env set.
func Command(bin string, env map[string]string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// Run runs bin with env and args and returns how it ended; a failure to start fails t.
func Run(t testing.TB, bin string, env map[string]string, args ...string) Result {
	t.Helper()
	return Wait(t, Command(bin, env, args...))
}

// Wait runs an unstarted command, capturing its output.
func Wait(t testing.TB, cmd *exec.Cmd) Result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s: %v", cmd.Path, err)
	}
	return Result{Code: code, Stdout: stdout.String(), Stderr: stderr.String()}
}
