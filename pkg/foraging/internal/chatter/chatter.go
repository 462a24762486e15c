// Package chatter keeps what a library prints straight to the process' standard error
// (Go's builtin println, as parquet-go does for pages it reads with a surprising offset
// count) off the terminal: Capture runs a function with file descriptor 2 redirected and
// returns the lines it printed, for the caller to log at debug level.
package chatter

import "sync"

// mu serialises captures: file descriptor 2 is process-wide.
var mu sync.Mutex

// Capture runs fn with file descriptor 2 redirected to a pipe and returns the lines
// written to it that start with one of prefixes. Other lines written meanwhile (another
// goroutine's log line) are written to the real standard error when fn returns. The
// descriptor is restored before a panic in fn propagates, so a crash still prints.
// Where redirection is unsupported, fn simply runs.
func Capture(prefixes []string, fn func()) []string {
	mu.Lock()
	defer mu.Unlock()
	return capture(prefixes, fn)
}
