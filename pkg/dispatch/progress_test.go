package dispatch

import (
	"bytes"
	"strings"
	"testing"
)

func TestLineProgressRedrawsOneLine(t *testing.T) {
	var buf bytes.Buffer
	p := NewLineProgress(&buf)
	p.Count("records", 3)
	p.Count("jobs written", 2) // within 100 ms of the first draw: not drawn yet
	p.Done()
	out := buf.String()
	if !strings.HasPrefix(out, "\r\033[K") || !strings.HasSuffix(out, "jobs written 2 · records 3\n") {
		t.Fatalf("progress output %q: want carriage-return redraws ending with the final counts and a newline", out)
	}
	if strings.Count(out, "\n") != 1 {
		t.Fatalf("progress wrote %d lines, want one", strings.Count(out, "\n"))
	}
}
