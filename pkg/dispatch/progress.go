package dispatch

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// Progress is told how far the dispatch has come. Implementations must be safe for
// concurrent use; NoProgress does nothing.
type Progress interface {
	// Count adds n to the named counter ("records", "assets listed", "jobs").
	Count(name string, n int)
	// Done ends the display.
	Done()
}

// NoProgress is the Progress for non-terminals: it shows nothing.
type NoProgress struct{}

// Count does nothing.
func (NoProgress) Count(string, int) {}

// Done does nothing.
func (NoProgress) Done() {}

// LineProgress redraws one status line on a terminal, at most every 100 ms.
type LineProgress struct {
	mu     sync.Mutex
	w      io.Writer
	counts map[string]int
	last   time.Time
	drawn  bool
}

// NewLineProgress returns a Progress that draws on w (a terminal).
func NewLineProgress(w io.Writer) *LineProgress {
	return &LineProgress{w: w, counts: map[string]int{}}
}

// Count adds n to a counter and redraws if the last draw is older than 100 ms.
func (p *LineProgress) Count(name string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts[name] += n
	if time.Since(p.last) >= 100*time.Millisecond {
		p.draw()
	}
}

func (p *LineProgress) draw() {
	names := make([]string, 0, len(p.counts))
	for k := range p.counts {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s %d", k, p.counts[k])
	}
	fmt.Fprintf(p.w, "\r\033[K%s", strings.Join(parts, " · "))
	p.last = time.Now()
	p.drawn = true
}

// Done draws the final counts and ends the line.
func (p *LineProgress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn || len(p.counts) > 0 {
		p.draw()
		fmt.Fprintln(p.w)
	}
}
