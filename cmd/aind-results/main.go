// Command aind-results finds analysis results: it queries result records into a table
// (CSV for notebooks), downloads result folders verified against their manifests, lists
// their files, and reports on one pipeline run. See pkg/results.
package main

import (
	"os"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/cmdline/resultscmd"
)

func main() {
	os.Exit(resultscmd.Main(os.Args[1:]))
}
