package resultscmd

import (
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/clitest"
)

// Every flag of every subcommand treats an empty value as not set.
func TestEmptyFlagsAreUnset(t *testing.T) {
	for _, tt := range []struct {
		command, positional []string
	}{
		{[]string{"query"}, nil},
		{[]string{"get"}, []string{"0123abcd"}},
		{[]string{"ls"}, []string{"0123abcd"}},
		{[]string{"report"}, []string{"run-folder"}},
	} {
		t.Run(tt.command[0], func(t *testing.T) {
			clitest.EmptyFlagsAreUnset(t, func() any {
				cmd := &resultsCmd{}
				cmd.Get.globals, cmd.Report.globals = &cmd.Globals, &cmd.Globals
				return cmd
			}, tt.command, tt.positional)
		})
	}
}
