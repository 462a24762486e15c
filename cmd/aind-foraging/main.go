// Command aind-foraging is the project's example grouped analysis: per mouse, dynamic
// foraging sessions with fiber photometry, run by the wrapper once per job (one job per
// subject when dispatched with --group_by subject.subject_id). It takes every wrapper
// flag (see --help); the analysis itself is in pkg/foraging.
package main

import (
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/foraging"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/wrapper"
)

func main() {
	wrapper.Main(foraging.Analysis())
}
