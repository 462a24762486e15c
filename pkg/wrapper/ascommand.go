package wrapper

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/alecthomas/kong"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/cli"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/logs"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/result"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// underWrapper reports whether this process is the analysis command of an enclosing
// `aind-wrapper run` (which sets AIND_JOB_FILE and AIND_OUTPUT_DIR for its command).
func underWrapper() bool {
	return os.Getenv(EnvJobFile) != "" && os.Getenv(EnvOutputDir) != ""
}

// runAsCommand runs a Go analysis as the command of an enclosing `aind-wrapper run`, so any
// binary built with Main is also a valid --analysis_command of the pipeline: the enclosing
// wrapper has already resolved the job, its parameters and its identity, holds the claim and
// will publish; this process only analyses the one job described by the AIND_* environment
// (see Command) and writes its output values to $AIND_OUTPUTS_FILE. The wrapper's flags are
// refused here (they belong to the enclosing wrapper); the analysis' own (GoAnalysis.Flags)
// are taken. It returns the exit code Command interprets: 0, 1 (the job failed), 75
// (transient), 2 (usage).
func runAsCommand(a GoAnalysis, args []string, stderr io.Writer) int {
	if a.Flags == nil && len(args) > 0 {
		err := fault.Usagef("run by aind-wrapper (%s is set): flags %q belong to the wrapper, not to its analysis command", EnvJobFile, args)
		fmt.Fprintf(stderr, "%s: %v\n", a.Name, err)
		return fault.ExitCode(err)
	}
	desc := a.Name + ", run by aind-wrapper on one job (" + EnvJobFile + " is set): only its own flags apply."
	return cli.Main(a.Name, desc+"\n\n"+commandExitCodes.Help(), &commandRun{analysis: a, stderr: stderr}, args, stderr)
}

// commandExitCodes is what a Go analysis' exit codes mean when it is the command of an
// enclosing wrapper, which reads them (see Command).
var commandExitCodes = fault.ExitCodes{
	OK:        "the analysis of this job finished and wrote its outputs",
	Failed:    "the analysis failed on this job (the wrapper records it failed and goes on)",
	Usage:     "usage error (a bad flag of the analysis, or a flag of the wrapper)",
	Transient: "transient fault (S3 unreachable, say): the wrapper fails the job as transient and exits 75",
}

// commandRun is the command line of a Go analysis run by an enclosing wrapper: only the
// analysis' own flags.
type commandRun struct {
	analysis GoAnalysis
	stderr   io.Writer
}

// KongOptions adds the analysis' own flags (cli.Extended).
func (c *commandRun) KongOptions() []kong.Option { return c.analysis.ownFlags() }

// Run analyses the one job the AIND_* environment describes.
func (c *commandRun) Run(ctx context.Context) error {
	log := logs.New(c.stderr, os.Getenv("AIND_LOG_LEVEL"))
	in := Input{
		JobFile:        os.Getenv(EnvJobFile),
		ParametersFile: os.Getenv(EnvParametersFile),
		Hash:           os.Getenv(EnvJobHash),
		OutputDir:      os.Getenv(EnvOutputDir),
		ScratchDir:     os.Getenv(EnvScratchDir),
		Log:            log,
	}
	data, err := os.ReadFile(in.JobFile)
	if err != nil {
		return fault.Usagef("job file (%s): %w", EnvJobFile, err)
	}
	if in.Job, err = job.Parse(data, in.JobFile); err != nil {
		return fault.Usage(err)
	}
	in.Parameters = map[string]any{}
	if in.ParametersFile != "" {
		b, err := os.ReadFile(in.ParametersFile)
		if err != nil {
			return fault.Usagef("parameters file (%s): %w", EnvParametersFile, err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber() // as the wrapper hands parameters to an in-process analysis
		if err := dec.Decode(&in.Parameters); err != nil {
			return fault.Usagef("parameters file %s: must be a JSON object: %w", in.ParametersFile, err)
		}
	}
	if in.Store, err = storage.New(ctx, storage.Options{}); err != nil {
		return err
	}
	outputs, err := c.analysis.Run(ctx, in)
	if err != nil {
		return err
	}
	if outputs == nil {
		outputs = map[string]any{}
	}
	if path := os.Getenv(EnvOutputsFile); path != "" {
		if err := result.WriteJSON(path, outputs); err != nil {
			return fmt.Errorf("writing outputs: %w", err)
		}
	}
	return nil
}
