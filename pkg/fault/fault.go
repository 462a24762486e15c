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
	"strings"
)

// Exit codes shared by aind-dispatch, aind-wrapper and aind-results. Each binary's --help
// says what they mean for it (see ExitCodes).
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

// ExitCodes says what each exit code means for one binary, for its --help text: the codes
// are shared, their causes are not (a dispatcher has no jobs that fail, only a wrapper has
// jobs claimed by another wrapper).
type ExitCodes struct {
	OK, Failed, Usage, Transient string
}

// Help returns the "Exit status:" table of c, its lines at most 76 characters wide; code
// 130 (interrupted) means the same for every binary.
func (c ExitCodes) Help() string {
	var b strings.Builder
	b.WriteString("Exit status:")
	for _, row := range []struct {
		code    int
		meaning string
	}{{ExitOK, c.OK}, {ExitFailed, c.Failed}, {ExitUsage, c.Usage}, {ExitTransient, c.Transient}, {ExitInterrupted, "interrupted (SIGINT or SIGTERM)"}} {
		line := fmt.Sprintf("\n  %-4d", row.code)
		for _, w := range strings.Fields(row.meaning) {
			if len(line)+1+len(w) > 77 { // 77: the line starts with its newline
				b.WriteString(line)
				line = "\n      "
			}
			line += " " + w
		}
		b.WriteString(line)
	}
	return b.String()
}

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
