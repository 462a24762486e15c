// Command aind-dispatch selects data-asset records from DocDB and writes one JSON job file
// per unit of work, in one folder per downstream task. See pkg/dispatch.
package main

import (
	"os"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/cli"
)

func main() {
	os.Exit(cli.Main("aind-dispatch", "Select data assets from DocDB and write one job file per unit of work.", &dispatchCmd{}, os.Args[1:], os.Stderr))
}
