// Command aind-wrapper runs an analysis once per job file, publishes its results to S3 and
// records their provenance in DocDB. See pkg/wrapper.
package main

import (
	"os"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/cmdline/wrappercmd"
)

func main() {
	os.Exit(wrappercmd.Main(os.Args[1:]))
}
