package dispatch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
)

// DoneLookup says which job identities already have a result record. *docdb.Collection
// implements it; the contract: one call answers for all ids given (one batched query, not
// one per id), and returns only ids that exist.
type DoneLookup interface {
	Existing(ctx context.Context, ids []string) (map[string]bool, error)
}

// PlaceholderName is the file written instead of job folders when nothing is dispatched,
// so the pipeline has an explained, non-job output instead of failing on an empty one.
const PlaceholderName = job.NoJobsFile

// errEnough stops the job stream once max_number_of_tasks_dispatched jobs are written.
var errEnough = errors.New("enough jobs dispatched")

// Pipeline sizes. Preparing a job (its identity, file name and JSON) is CPU work done by
// up to GOMAXPROCS goroutines at once; writing its file is a few system calls done by
// fileWriters goroutines. Both run beside discovery, so job files are written while the
// listing goes on, and in order: names, content and folder assignment do not depend on
// which goroutine ran first.
const (
	// queueDepth bounds the jobs handed to the writer and not yet placed.
	queueDepth = 256
	// fileWriters is the number of goroutines writing job files.
	fileWriters = 8
)

// prepared is one job on its way through the writer: filled by a preparing goroutine,
// then placed by the writer's single ordered loop.
type prepared struct {
	ready chan struct{} // closed once name, data, hash or err are set
	name  string
	data  []byte
	hash  string // identity hash, "" when no code identity is known
	err   error
}

// fileWrite is a job file to write, into a task folder that exists.
type fileWrite struct {
	path string
	data []byte
}

// writer turns jobs into job files in a temporary folder next to the output, drops
// duplicates and jobs already done (one batched lookup per batch), assigns the rest to task
// folders in the order the jobs were added, and moves the folders into place only when
// everything succeeded.
//
// add hands a job to the pipeline and returns at once (up to queueDepth jobs ahead); its
// identity, name and JSON are computed concurrently, and a single loop (place) consumes
// the results in the order they were added, so the output is exactly that of a serial
// writer. Memory is bounded: queueDepth prepared jobs, plus one lookup batch of job
// contents when done jobs are looked up.
type writer struct {
	d      *dispatcher
	out    string // the output directory
	tmp    string // temporary root: out/ receives the task folders
	create bool   // the output directory did not exist: rename tmp/out onto it
	names  map[string]bool
	// pending are placed jobs waiting for their batched done-lookup.
	pending []*prepared
	batch   int

	ctx     context.Context // cancelled when the pipeline stops: an error, or the maximum
	stop    context.CancelCauseFunc
	queue   chan *prepared
	prepSem chan struct{}
	writes  chan fileWrite
	placed  chan struct{} // closed when place has returned
	wg      sync.WaitGroup
	errMu   sync.Mutex
	err     error // the first error of the pipeline (errEnough included)
}

func newWriter(d *dispatcher) (*writer, error) {
	out := filepath.Clean(d.opts.OutputDir)
	w := &writer{d: d, out: out, names: map[string]bool{}, batch: d.opts.LookupBatch}
	st, err := os.Stat(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
		w.create = true
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return nil, fault.Usagef("output directory %s: %w", out, err)
		}
		w.tmp, err = os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".aind-dispatch-")
	case err != nil:
		return nil, fault.Usagef("output directory: %w", err)
	case !st.IsDir():
		return nil, fault.Usagef("output directory %s: not a directory", out)
	default:
		entries, rerr := os.ReadDir(out)
		if rerr != nil {
			return nil, fault.Usagef("output directory: %w", rerr)
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), ".") {
				return nil, fault.Usagef("output directory %s is not empty (it holds %q): dispatch writes into an empty folder so that stale jobs are never mixed in", out, e.Name())
			}
		}
		w.tmp, err = os.MkdirTemp(out, ".aind-dispatch-")
	}
	if err != nil {
		return nil, fmt.Errorf("creating staging folder: %w", err)
	}
	if err := os.Mkdir(filepath.Join(w.tmp, "out"), 0o755); err != nil {
		w.abort()
		return nil, fmt.Errorf("creating staging folder: %w", err)
	}
	return w, nil
}

// start launches the ordered placing loop and the file writers.
func (w *writer) start(ctx context.Context) {
	w.ctx, w.stop = context.WithCancelCause(ctx)
	w.queue = make(chan *prepared, queueDepth)
	w.prepSem = make(chan struct{}, runtime.GOMAXPROCS(0))
	w.writes = make(chan fileWrite, queueDepth)
	w.placed = make(chan struct{})
	for range fileWriters {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for fw := range w.writes {
				if w.failed() {
					continue // drain: the run has failed
				}
				if err := os.WriteFile(fw.path, fw.data, 0o644); err != nil {
					w.fail(fmt.Errorf("writing job file: %w", err))
				}
			}
		}()
	}
	go func() {
		defer close(w.placed)
		defer close(w.writes) // only place sends on writes
		if err := w.place(); err != nil {
			w.fail(err)
		}
	}()
}

// fail records the pipeline's first error and stops it.
func (w *writer) fail(err error) {
	w.errMu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.errMu.Unlock()
	w.stop(err)
}

// failed reports whether the run has failed. errEnough is not a failure: the files
// already placed must still be written.
func (w *writer) failed() bool {
	err := context.Cause(w.ctx)
	return err != nil && !errors.Is(err, errEnough)
}

// stopped is the error add returns once the pipeline has stopped.
func (w *writer) stopped() error {
	if err := context.Cause(w.ctx); err != nil {
		return err
	}
	return w.ctx.Err()
}

// add hands one job to the pipeline. It returns errEnough once the maximum number of jobs
// is written, and the pipeline's error once it has failed.
func (w *writer) add(j job.Job) error {
	select {
	case w.prepSem <- struct{}{}:
	case <-w.ctx.Done():
		return w.stopped()
	}
	p := &prepared{ready: make(chan struct{})}
	select {
	case w.queue <- p:
	case <-w.ctx.Done():
		<-w.prepSem
		return w.stopped()
	}
	go func() {
		defer func() { <-w.prepSem }()
		defer close(p.ready)
		p.name, p.data, p.hash, p.err = w.d.prepare(j)
	}()
	return nil
}

// close waits for every added job to be placed and written, and returns the pipeline's
// first error: errEnough when it stopped at the maximum.
func (w *writer) close() error {
	close(w.queue)
	<-w.placed
	w.wg.Wait()
	w.errMu.Lock()
	defer w.errMu.Unlock()
	if w.err == nil {
		if err := w.ctx.Err(); err != nil {
			return context.Cause(w.ctx)
		}
	}
	return w.err
}

// place consumes the prepared jobs in the order they were added: it counts them, drops
// duplicates, and places the rest, a lookup batch at a time.
func (w *writer) place() error {
	for p := range w.queue {
		select {
		case <-p.ready:
		case <-w.ctx.Done():
			return w.stopped()
		}
		if p.err != nil {
			return p.err
		}
		w.d.stats.Jobs++
		w.d.progress.Count("jobs", 1)
		if w.names[p.name] {
			w.d.stats.Duplicates++
			continue
		}
		w.names[p.name] = true
		w.pending = append(w.pending, p)
		if p.hash == "" || w.d.done == nil || len(w.pending) >= w.batch {
			if err := w.flush(); err != nil {
				return err
			}
		}
	}
	return w.flush()
}

// flush looks up the pending jobs' identities in one query, then drops the done ones and
// hands the others to the file writers, each in its task folder.
func (w *writer) flush() error {
	if len(w.pending) == 0 {
		return nil
	}
	var done map[string]bool
	if w.d.done != nil {
		var ids []string
		for _, s := range w.pending {
			if s.hash != "" {
				ids = append(ids, s.hash)
			}
		}
		if len(ids) > 0 {
			var err error
			if done, err = w.d.done.Existing(w.ctx, ids); err != nil {
				return fmt.Errorf("checking which jobs are already done: %w", err)
			}
			w.d.stats.DoneLookups++
		}
	}
	pending := w.pending
	w.pending = nil
	for i, s := range pending {
		if s.hash != "" && done[s.hash] {
			w.d.stats.SkippedDone++
			continue
		}
		dir := filepath.Join(w.tmp, "out", strconv.Itoa(w.d.stats.Written/w.d.opts.TasksPerJob))
		if w.d.stats.Written%w.d.opts.TasksPerJob == 0 {
			// The folder's first job: create it here, before any of its files is handed on.
			if err := os.Mkdir(dir, 0o755); err != nil {
				return fmt.Errorf("creating task folder: %w", err)
			}
			w.d.stats.Folders++
		}
		select {
		case w.writes <- fileWrite{path: filepath.Join(dir, s.name), data: s.data}:
		case <-w.ctx.Done():
			return w.stopped()
		}
		w.d.stats.Written++
		w.d.progress.Count("jobs written", 1)
		if w.d.stats.Written >= w.d.opts.MaxTasks {
			w.d.stats.Truncated = len(pending) - i - 1
			return errEnough
		}
	}
	return nil
}

// prepare computes a job's identity (when the code is known), file name and content.
func (d *dispatcher) prepare(j job.Job) (name string, data []byte, hash string, err error) {
	if !d.opts.Code.IsZero() {
		id, err := j.Identity(job.Inputs{Code: d.opts.Code, Parameters: d.opts.Parameters, Overrides: d.opts.Overrides, Schema: d.opts.ParameterSchema})
		if err != nil {
			return "", nil, "", err
		}
		j.AnalysisCode, hash = &id.Code, id.Hash
	}
	if name, data, err = j.Encode(); err != nil {
		return "", nil, "", err
	}
	return name, data, hash, nil
}

// finish writes the placeholder if nothing was dispatched and moves the folders into the
// output directory. The staging folder is removed in every case.
func (w *writer) finish(placeholder string) error {
	defer w.abort()
	outDir := filepath.Join(w.tmp, "out")
	if w.d.stats.Written == 0 {
		if err := os.WriteFile(filepath.Join(outDir, PlaceholderName), []byte(placeholder), 0o644); err != nil {
			return fmt.Errorf("writing placeholder: %w", err)
		}
	}
	if w.create {
		if err := os.Rename(outDir, w.out); err != nil {
			return fmt.Errorf("moving jobs into %s: %w", w.out, err)
		}
		return nil
	}
	entries, err := os.ReadDir(outDir)
	if err != nil {
		return fmt.Errorf("moving jobs into %s: %w", w.out, err)
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(outDir, e.Name()), filepath.Join(w.out, e.Name())); err != nil {
			return fmt.Errorf("moving jobs into %s: %w", w.out, err)
		}
	}
	return nil
}

// abort removes the staging folder and everything in it.
func (w *writer) abort() {
	_ = os.RemoveAll(w.tmp)
}
