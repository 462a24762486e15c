package wrapper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/result"
)

// Environment variables a command analysis receives (besides the wrapper's own
// environment).
const (
	EnvJobFile        = "AIND_JOB_FILE"        // the job file (JSON)
	EnvParametersFile = "AIND_PARAMETERS_FILE" // the validated parameters (JSON object)
	EnvOutputDir      = "AIND_OUTPUT_DIR"      // the job's result folder
	EnvOutputsFile    = "AIND_OUTPUTS_FILE"    // where to write the output values (JSON object)
	EnvScratchDir     = "AIND_SCRATCH_DIR"     // a working folder that is not published
	EnvJobHash        = "AIND_JOB_HASH"        // the job's identity
)

// Command runs any program as the analysis: e.g. `aind-wrapper run -- python analyse.py`.
// The program gets the job, the parameters and its output folder through the AIND_*
// environment variables, writes result files there and, optionally, its output values to
// $AIND_OUTPUTS_FILE. Its stdout and stderr go to the job's analysis.log (and to the
// wrapper's stderr). A non-zero exit fails the job; exit status 75 marks the failure
// transient. On cancellation or timeout the program's process group gets SIGTERM, then
// SIGKILL after KillDelay.
type Command struct {
	// Argv is the program and its arguments.
	Argv []string
	// Stderr also receives the program's output (nil: only the log file).
	Stderr io.Writer
	// KillDelay is the grace period between SIGTERM and SIGKILL (default 10s).
	KillDelay time.Duration
}

// Run implements Analysis.
func (c Command) Run(ctx context.Context, in Input) (map[string]any, error) {
	if len(c.Argv) == 0 {
		return nil, fault.Usagef("no analysis command given (aind-wrapper run -- <command> <args>)")
	}
	outputsFile := filepath.Join(in.OutputDir, result.OutputsFile)
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Env = append(os.Environ(),
		EnvJobFile+"="+in.JobFile,
		EnvParametersFile+"="+in.ParametersFile,
		EnvOutputDir+"="+in.OutputDir,
		EnvOutputsFile+"="+outputsFile,
		EnvScratchDir+"="+in.ScratchDir,
		EnvJobHash+"="+in.Hash,
	)
	var out io.Writer = logFileFrom(ctx)
	if c.Stderr != nil {
		out = io.MultiWriter(out, c.Stderr)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = c.KillDelay
	if cmd.WaitDelay <= 0 {
		cmd.WaitDelay = 10 * time.Second
	}
	in.Log.Info().Strs("command", c.Argv).Msg("running analysis command")
	err := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // leave no child behind
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("analysis command %s stopped: %w", c.Argv[0], context.Cause(ctx))
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		e := fmt.Errorf("analysis command %q exited with status %d", strings.Join(c.Argv, " "), ee.ExitCode())
		if ee.ExitCode() == fault.ExitTransient {
			return nil, fault.Transient(e)
		}
		return nil, fault.Permanent(e)
	case err != nil:
		return nil, fault.Usagef("starting analysis command %q: %w", c.Argv[0], err)
	}
	return readOutputs(outputsFile)
}

// readOutputs reads the analysis' outputs.json (an absent file means no output values).
func readOutputs(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading outputs: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		return nil, fault.Permanent(fmt.Errorf("outputs file %s: must be a JSON object: %w", path, err))
	}
	if out == nil {
		out = map[string]any{}
	}
	return out, nil
}
