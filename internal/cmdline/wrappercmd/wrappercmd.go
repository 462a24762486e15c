// Package wrappercmd is the aind-wrapper command line: `aind-wrapper run [flags] --
// <command>` runs any program as the analysis of every job.
package wrappercmd

import (
	"context"
	"os"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/cli"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/params"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/wrapper"
)

// Description is the command's one-line help.
const Description = "Run an analysis once per job, publish its results and record their provenance."

// Main runs aind-wrapper with args (without the program name) and returns the exit code.
func Main(args []string) int {
	cmd := &wrapperCmd{}
	cmd.Run.globals = &cmd.Globals
	return cli.Main("aind-wrapper", Description+"\n\n"+params.OverridesHelp+"\n\n"+wrapper.ExitCodes.Help(), cmd, args, os.Stderr, cmd.Run.Filter())
}

// wrapperCmd is the command tree: aind-wrapper [--version] run [flags] -- <command> [args].
type wrapperCmd struct {
	cli.Globals
	Run runCmd `cmd:"" help:"Run a command as the analysis of every job: aind-wrapper run [flags] -- python analyse.py"`
}

// runCmd runs any program as the analysis.
type runCmd struct {
	wrapper.Flags
	Command []string `arg:"" passthrough:"" name:"command" help:"The analysis command and its arguments, after --."`

	globals *cli.Globals
}

// Help is shown by `aind-wrapper run --help` under the usage line: how analysis parameters
// are given on the command line, and the exit codes.
func (c *runCmd) Help() string { return params.OverridesHelp + "\n\n" + wrapper.ExitCodes.Help() }

// Run executes the wrapper with the command analysis.
func (c *runCmd) Run(ctx context.Context) error {
	if len(c.Command) > 0 && c.Command[0] == "--" {
		c.Command = c.Command[1:] // kong's passthrough keeps the separator
	}
	return c.Execute(ctx, c.globals.Logger(), wrapper.Command{Argv: c.Command, Stderr: os.Stderr})
}
