// Package dispatch turns a selection of data-asset records into job files: it queries
// DocDB (a filter, or a CSV of asset ids turned into one), shapes the records (latest per
// key, unwinding, grouping; in Go, after one projected find), finds files by extension under
// each asset with bounded concurrent listing, expands the parameter sweep, drops jobs whose
// identity already has a result record (one batched lookup), and writes one JSON file per
// job into one folder per downstream task.
//
// Output is deterministic: records are read in _id order, groups keep the order of their
// first record, and each job file is named by the hash of its content, so re-running on the
// same inputs writes the same folders and files (Nextflow -resume reuses its cached tasks).
// Nothing appears in the output directory until every job is written.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rs/zerolog"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/params"
)

// Options are a dispatch's settings, already parsed and checked by the caller for form
// (Run checks how they combine).
type Options struct {
	// Query is the Mongo filter selecting asset records.
	Query any
	// QueryText is the query as JSON text, recorded in every job's "query" field.
	QueryText string
	// GroupBy lists field paths; one job per distinct combination of their values.
	GroupBy []string
	// FilterLatest is a field path; with FilterBy, only the record with the greatest value
	// of it per FilterBy combination is kept.
	FilterLatest string
	// FilterBy lists the field paths that FilterLatest keeps one record per.
	FilterBy []string
	// UnwindListFields lists field paths holding lists; each element gives its own record.
	UnwindListFields []string
	// DropNullGroups drops records whose FilterBy / GroupBy fields are missing or null.
	DropNullGroups bool
	// FileExtension, when set, turns on file discovery: jobs carry the matched files.
	FileExtension string
	// SplitFiles gives one job per matched file (single-asset jobs only).
	SplitFiles bool
	// Parameters is the analysis_parameters.json content: its sweep multiplies the jobs,
	// and its fixed parameters enter the identity used to skip work already done.
	Parameters params.File
	// ParameterSchema fills defaults into the identity's parameters exactly as the wrapper
	// does; without it, jobs of an analysis whose schema has defaults are not recognised as
	// done here (the wrapper still skips them).
	ParameterSchema *params.Schema
	// Overrides are the command-line parameter overrides, the same the wrapper is given
	// (params.Flags): they enter the identity between fixed and job parameters.
	Overrides map[string]any
	// Code identifies the analysis that will run. When zero, jobs carry no analysis_code
	// and nothing is skipped as done (the wrapper still skips them).
	Code identity.CodeInfo
	// TasksPerJob is how many job files go in one task folder.
	TasksPerJob int
	// MaxTasks caps the number of job files written.
	MaxTasks int
	// OutputDir receives the task folders "0", "1", ...; it must be absent or empty.
	OutputDir string
	// Concurrency bounds simultaneous asset listings.
	Concurrency int
	// LookupBatch is how many jobs share one already-done lookup.
	LookupBatch int
}

// Deps are the services a dispatch uses. Done may be nil (nothing is skipped); Lister may
// be nil when FileExtension is empty.
type Deps struct {
	Finder   RecordFinder
	Done     DoneLookup
	Lister   Lister
	Progress Progress
	Log      zerolog.Logger
}

// Stats counts what a dispatch did, for its summary line.
type Stats struct {
	Records            int  `json:"records_matched"`
	DroppedNull        int  `json:"dropped_null_fields"`
	NotLatest          int  `json:"dropped_not_latest"`
	Groups             int  `json:"groups"`
	AssetsWithoutFiles int  `json:"assets_without_files"`
	Jobs               int  `json:"jobs"`
	Duplicates         int  `json:"duplicate_jobs"`
	SkippedDone        int  `json:"skipped_done"`
	DoneLookups        int  `json:"done_lookups"`
	Written            int  `json:"jobs_written"`
	Folders            int  `json:"task_folders"`
	Truncated          int  `json:"not_dispatched_over_max"`
	StoppedAtMax       bool `json:"stopped_at_max"`
}

// Summary is the one-line account of a dispatch.
func (s Stats) Summary(o Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d records matched", s.Records)
	if len(o.GroupBy) > 0 {
		fmt.Fprintf(&b, ", %d groups", s.Groups)
	}
	if s.DroppedNull > 0 {
		fmt.Fprintf(&b, ", %d dropped for null group fields", s.DroppedNull)
	}
	if s.NotLatest > 0 {
		fmt.Fprintf(&b, ", %d superseded by a later record", s.NotLatest)
	}
	if o.FileExtension != "" {
		fmt.Fprintf(&b, ", %d assets without %s files", s.AssetsWithoutFiles, o.FileExtension)
	}
	fmt.Fprintf(&b, ", %d jobs", s.Jobs)
	if s.Duplicates > 0 {
		fmt.Fprintf(&b, " (%d duplicates dropped)", s.Duplicates)
	}
	fmt.Fprintf(&b, ", %d skipped as already done, %d written to %d task folders", s.SkippedDone, s.Written, s.Folders)
	if s.StoppedAtMax {
		fmt.Fprintf(&b, " (stopped at max_number_of_tasks_dispatched=%d)", o.MaxTasks)
	}
	return b.String()
}

type dispatcher struct {
	opts     Options
	finder   RecordFinder
	done     DoneLookup
	lister   Lister
	progress Progress
	log      zerolog.Logger
	stats    Stats
}

func (o *Options) check() error {
	switch {
	case o.FilterLatest != "" && len(o.FilterBy) == 0:
		return fault.Usagef("filter_latest %q needs filter_by: the fields to keep the latest record per", o.FilterLatest)
	case len(o.FilterBy) > 0 && o.FilterLatest == "":
		return fault.Usagef("filter_by is set but filter_latest is not: name the field that orders records (e.g. created)")
	case o.TasksPerJob < 1:
		return fault.Usagef("tasks_per_job must be at least 1, got %d", o.TasksPerJob)
	case o.MaxTasks < 1:
		return fault.Usagef("max_number_of_tasks_dispatched must be at least 1, got %d", o.MaxTasks)
	case o.OutputDir == "":
		return fault.Usagef("output_directory is empty")
	}
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	if o.LookupBatch < 1 {
		o.LookupBatch = 5000
	}
	return nil
}

// Run dispatches: selects, discovers, expands, skips done work and writes the job
// folders. On error nothing is left in the output directory.
func Run(ctx context.Context, o Options, deps Deps) (Stats, error) {
	if err := o.check(); err != nil {
		return Stats{}, err
	}
	if o.FileExtension != "" && deps.Lister == nil {
		return Stats{}, errors.New("dispatch: file discovery needs a Lister")
	}
	d := &dispatcher{opts: o, finder: deps.Finder, done: deps.Done, lister: deps.Lister, progress: deps.Progress, log: deps.Log}
	if d.progress == nil {
		d.progress = NoProgress{}
	}
	defer d.progress.Done()
	if o.Code.IsZero() {
		d.done = nil
	}
	w, err := newWriter(d)
	if err != nil {
		return Stats{}, err
	}
	w.start(ctx)
	err = d.run(ctx, w)
	if err != nil && !errors.Is(err, errEnough) {
		w.fail(err) // stop writing: nothing of this run is kept
	}
	werr := w.close()
	if werr != nil && (err == nil || !errors.Is(werr, errEnough)) {
		err = werr // the writer's own failure explains a stopped selection
	}
	if errors.Is(err, errEnough) {
		d.stats.StoppedAtMax, err = true, nil
	}
	if err != nil {
		w.abort()
		return d.stats, err
	}
	if err := w.finish(d.placeholder()); err != nil {
		return d.stats, err
	}
	return d.stats, nil
}

func (d *dispatcher) run(ctx context.Context, w *writer) error {
	selectJobs := func(ctx context.Context, emit func(job.Job) error) error {
		return d.selectJobs(ctx, func(j job.Job) error {
			if d.opts.FileExtension != "" && d.opts.SplitFiles && len(j.S3Location) > 1 {
				return fault.Usagef("split_files cannot split a group of %d assets (%s): set split_files to 0 to keep a group's files in one job, or do not group", len(j.S3Location), describeGroup(j))
			}
			return emit(j)
		})
	}
	expand := func(j job.Job) error { return d.expand(w, j) }
	if d.opts.FileExtension == "" {
		return selectJobs(ctx, expand)
	}
	return d.discoverAll(ctx, selectJobs, expand)
}

func describeGroup(j job.Job) string {
	if len(j.GroupMetadata) == 0 {
		return "records " + strings.Join(j.DocDBRecordID, ", ")
	}
	var parts []string
	for k, v := range j.GroupMetadata {
		parts = append(parts, fmt.Sprintf("%s=%v", k, v))
	}
	return "group " + strings.Join(parts, ", ")
}

// expand applies the parameter sweep and hands each job to w, which computes its
// identity, name and content concurrently and places the jobs in this order.
func (d *dispatcher) expand(w *writer, j job.Job) error {
	sweep := d.opts.Parameters.Distributed
	if len(sweep) == 0 {
		sweep = []map[string]any{nil}
	}
	for _, p := range sweep {
		c := j
		c.DistributedParameters = p
		if err := w.add(c); err != nil {
			return err
		}
	}
	return nil
}

func (d *dispatcher) placeholder() string {
	reason := "the selection produced no jobs"
	switch {
	case d.stats.Records == 0:
		reason = "no DocDB record matched the query"
	case d.stats.Jobs > 0 && d.stats.SkippedDone+d.stats.Duplicates == d.stats.Jobs:
		reason = "every job is already done (a result record exists for each)"
	case d.opts.FileExtension != "" && d.stats.Jobs == 0:
		reason = fmt.Sprintf("no selected asset has %s files", d.opts.FileExtension)
	}
	return fmt.Sprintf("%s: %s.\n\nQuery: %s\nSummary: %s\n\nThis file is a placeholder so that the pipeline ends cleanly; the wrapper ignores it.\n",
		job.NoJobsNote, reason, d.opts.QueryText, d.stats.Summary(d.opts))
}
