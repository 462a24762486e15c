// Command aind-dispatch selects data-asset records from DocDB and writes one JSON job file
// per unit of work, in one folder per downstream task. See pkg/dispatch.
package main

import (
	"os"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/cmdline/dispatchcmd"
)

func main() {
	os.Exit(dispatchcmd.Main(os.Args[1:]))
}
