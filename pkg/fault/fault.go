// Package fault classifies errors once, at the adapter boundary (S3, DocDB, user input),
// and maps them to the process exit codes shared by every aind-* binary.
//
// Adapters wrap what they return with Transient, Permanent or Usage; callers never
// inspect driver or SDK errors themselves. An unclassified error counts as permanent.
package fault

import (
	"context"
	"errors"
	"fmt"
)

// Exit codes shared by aind-dispatch, aind-wrapper and aind-results. They are printed in
// every binary's --help (see ExitCodeHelp).
const (
	// ExitOK means every job was done or skipped.
	ExitOK = 0
	// ExitFailed means at least one job failed permanently (the others still ran).
	ExitFailed = 1
	// ExitUsage means a usage or configuration error: bad flags, bad input files.
	ExitUsage = 2
	// ExitTransient means S3 or DocDB stayed unreachable after bounded retries; the
	// pipeline may retry the task.
	ExitTransient = 75
	// ExitInterrupted means the process was interrupted (SIGINT/SIGTERM).
	ExitInterrupted = 130
)

// ExitCodeHelp is the exit-code table, for the binaries' --help text.
const ExitCodeHelp = `Exit status:
  0    all jobs done or skipped
  1    at least one job failed permanently (the others still ran)
  2    usage or configuration error (bad flag, bad input file)
  75   transient fault: S3 or DocDB unreachable after retries (safe to retry)
  130  interrupted`

type kind int

const (
	kindPermanent kind = iota + 1
	kindTransient
	kindUsage
)

type classified struct {
	kind kind
	err  error
}

func (c *classified) Error() string { return c.err.Error() }
func (c *classified) Unwrap() error { return c.err }

func wrap(k kind, err error) error {
	if err == nil {
		return nil
	}
	return &classified{kind: k, err: err}
}

// Transient marks err as a fault that may go away on retry (a server unreachable,
// throttling, a 5xx after the adapter's own retries). Nil stays nil.
func Transient(err error) error { return wrap(kindTransient, err) }

// Permanent marks err as a fault that a retry will not fix. Nil stays nil.
func Permanent(err error) error { return wrap(kindPermanent, err) }

// Usage marks err as bad input from the user: a flag, a query, a file. Nil stays nil.
func Usage(err error) error { return wrap(kindUsage, err) }

// Usagef is Usage(fmt.Errorf(format, args...)).
func Usagef(format string, args ...any) error { return Usage(fmt.Errorf(format, args...)) }

// outermost returns the kind of the outermost classification in err's chain: a caller
// that re-classifies an error (say, a missing file as usage) wins over the adapter.
func outermost(err error) (kind, bool) {
	var c *classified
	if errors.As(err, &c) {
		return c.kind, true
	}
	return 0, false
}

// IsTransient reports whether err was classified transient.
func IsTransient(err error) bool {
	k, ok := outermost(err)
	return ok && k == kindTransient
}

// IsUsage reports whether err was classified as a usage error.
func IsUsage(err error) bool {
	k, ok := outermost(err)
	return ok && k == kindUsage
}

// ExitCode maps an error to the process exit code: nil is ExitOK, a cancelled context is
// ExitInterrupted, then usage, transient, and everything else ExitFailed.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	case IsUsage(err):
		return ExitUsage
	case IsTransient(err):
		return ExitTransient
	default:
		return ExitFailed
	}
}
