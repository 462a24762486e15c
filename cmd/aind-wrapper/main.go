// Command aind-wrapper runs an analysis once per job file, publishes its results to S3 and
// records their provenance in DocDB. See pkg/wrapper.
package main

import (
	"os"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/cli"
)

func main() {
	cmd := &wrapperCmd{}
	os.Exit(cli.Main("aind-wrapper", "Run an analysis once per job, publish its results and record their provenance.", cmd, os.Args[1:], os.Stderr, cmd.Run.OverrideFilter()))
}
