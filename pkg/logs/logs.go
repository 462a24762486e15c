// Package logs builds the zerolog logger every aind-* binary writes to stderr: JSON when
// stderr is not a terminal (Nextflow, Code Ocean, CI), human-readable when it is.
package logs

import (
	"io"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"
)

// IsTerminal reports whether w is a terminal (an *os.File attached to a TTY).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// New returns a logger writing to w at level ("debug", "info", "warn", "error"; an
// unknown level means info). On a terminal it writes colored console lines, otherwise JSON.
func New(w io.Writer, level string) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(strings.ToLower(level))
	if err != nil || level == "" {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(Writer(w)).Level(lvl).With().Timestamp().Logger()
}

// Writer returns what a logger writing to w should write to: a console writer (readable
// lines) when w is a terminal, else w itself (JSON lines). Use it when a logger's output is
// replaced (zerolog's Logger.Output), so a terminal never gets raw JSON.
func Writer(w io.Writer) io.Writer {
	if IsTerminal(w) {
		return zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	return w
}
