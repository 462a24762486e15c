package main

import (
	"context"
	"os"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/wrapper"
)

// wrapperCmd is the command tree: aind-wrapper run [flags] -- <command> [args].
type wrapperCmd struct {
	Run runCmd `cmd:"" help:"Run a command as the analysis of every job: aind-wrapper run [flags] -- python analyse.py"`
}

// runCmd runs any program as the analysis.
type runCmd struct {
	wrapper.Flags
	Command []string `arg:"" passthrough:"" name:"command" help:"The analysis command and its arguments, after --."`
}

// Run executes the wrapper with the command analysis.
func (c *runCmd) Run(ctx context.Context) error {
	if len(c.Command) > 0 && c.Command[0] == "--" {
		c.Command = c.Command[1:] // kong's passthrough keeps the separator
	}
	name := "analysis"
	if len(c.Command) > 0 {
		name = c.Command[0]
	}
	return c.Execute(ctx, wrapper.Command{Argv: c.Command, Stderr: os.Stderr}, name)
}
