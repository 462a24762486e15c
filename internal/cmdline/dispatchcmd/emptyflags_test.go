package dispatchcmd

import (
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/clitest"
)

// Nextflow passes every param on every task, ” when unset: every flag must treat it so.
func TestEmptyFlagsAreUnset(t *testing.T) {
	clitest.EmptyFlagsAreUnset(t, func() any { return &dispatchCmd{} }, nil, nil)
}
