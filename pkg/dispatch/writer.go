package dispatch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

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

type stagedJob struct {
	name string
	hash string // identity hash, "" when no code identity is known
}

// writer stages job files in a temporary folder next to the output, drops jobs already
// done with one batched lookup per batch, assigns the rest to task folders, and moves the
// folders into place only when everything succeeded.
type writer struct {
	d       *dispatcher
	out     string // the output directory
	tmp     string // temporary root: staging/ and out/
	create  bool   // the output directory did not exist: rename tmp/out onto it
	names   map[string]bool
	pending []stagedJob
	batch   int
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
				return nil, fault.Usagef("output directory %s is not empty (found %s): dispatch writes into an empty folder so that stale jobs are never mixed in", out, e.Name())
			}
		}
		w.tmp, err = os.MkdirTemp(out, ".aind-dispatch-")
	}
	if err != nil {
		return nil, fmt.Errorf("creating staging folder: %w", err)
	}
	for _, sub := range []string{"staging", "out"} {
		if err := os.Mkdir(filepath.Join(w.tmp, sub), 0o755); err != nil {
			w.abort()
			return nil, fmt.Errorf("creating staging folder: %w", err)
		}
	}
	return w, nil
}

// add stages one job. It returns errEnough once the maximum number of jobs is written.
func (w *writer) add(ctx context.Context, j job.Job, hash string) error {
	name, err := j.FileName()
	if err != nil {
		return err
	}
	if w.names[name] {
		w.d.stats.Duplicates++
		return nil
	}
	w.names[name] = true
	data, err := j.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(w.tmp, "staging", name), data, 0o644); err != nil {
		return fmt.Errorf("staging job file: %w", err)
	}
	w.pending = append(w.pending, stagedJob{name: name, hash: hash})
	if hash == "" || w.d.done == nil || len(w.pending) >= w.batch {
		return w.flush(ctx)
	}
	return nil
}

// flush looks up the pending jobs' identities in one query, then places or drops them.
func (w *writer) flush(ctx context.Context) error {
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
			if done, err = w.d.done.Existing(ctx, ids); err != nil {
				return fmt.Errorf("checking which jobs are already done: %w", err)
			}
			w.d.stats.DoneLookups++
		}
	}
	pending := w.pending
	w.pending = nil
	for i, s := range pending {
		staged := filepath.Join(w.tmp, "staging", s.name)
		if s.hash != "" && done[s.hash] {
			w.d.stats.SkippedDone++
			if err := os.Remove(staged); err != nil {
				return fmt.Errorf("dropping done job: %w", err)
			}
			continue
		}
		folder := strconv.Itoa(w.d.stats.Written / w.d.opts.TasksPerJob)
		dir := filepath.Join(w.tmp, "out", folder)
		if w.d.stats.Written%w.d.opts.TasksPerJob == 0 {
			if err := os.Mkdir(dir, 0o755); err != nil {
				return fmt.Errorf("creating task folder: %w", err)
			}
			w.d.stats.Folders++
		}
		if err := os.Rename(staged, filepath.Join(dir, s.name)); err != nil {
			return fmt.Errorf("placing job file: %w", err)
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
