// Package wrapper runs an analysis once per job file and makes its provenance: it merges
// and validates the parameters, computes the job's identity (identity.Code.Hash), skips jobs
// whose record exists, claims the job, runs the analysis (a command, or a Go function),
// validates its outputs, writes metadata.nd.json, uploads the result folder to
// <bucket>/<hash>/ without overwriting, verifies it against a manifest, and only then writes
// the DocDB record with _id = hash.
//
// Publish protocol: a reader trusts a result only when its record exists, and the record is
// written only after every file and the manifest are uploaded and verified. A claim (a
// lease in a claims collection, renewed while the job runs) makes concurrent wrappers of the
// same job run it once; a crashed holder's claim expires and the next run takes it over,
// clears the partial upload and finishes the job. A wrapper whose claim is lost (refused,
// or not renewed within its lease) stops and exits 75; before its first write under the
// prefix it confirms it still holds the claim and that no record exists, and before writing
// the record (insert-if-absent) that it holds the claim, so a recorded result is never
// touched.
package wrapper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/params"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// Analysis is the user's analysis. Run analyses one job: it reads its inputs (in.Job's
// locations and files), writes result files under in.OutputDir, and returns its output
// values, which are validated against the output schema and recorded as
// output_parameters. An error fails this job only; an error marked fault.Transient makes
// the wrapper exit with the transient code.
type Analysis interface {
	Run(ctx context.Context, in Input) (map[string]any, error)
}

// AnalysisFunc adapts a function to Analysis.
type AnalysisFunc func(ctx context.Context, in Input) (map[string]any, error)

// Run calls f.
func (f AnalysisFunc) Run(ctx context.Context, in Input) (map[string]any, error) { return f(ctx, in) }

// Input is what an analysis gets for one job.
type Input struct {
	// Job is the job, as read from JobFile.
	Job     job.Job
	JobFile string
	// Parameters are the merged, defaulted and validated parameters; ParametersFile holds
	// them as JSON.
	Parameters     map[string]any
	ParametersFile string
	// Hash is the job's identity: the name of its result folder, S3 prefix and record.
	Hash string
	// OutputDir is this job's result folder: everything written there is published.
	OutputDir string
	// ScratchDir is a working folder that is not published.
	ScratchDir string
	// Store reads the job's inputs (s3:// or local paths).
	Store storage.Store
	// Log writes to the wrapper's log and to the job's analysis.log.
	Log zerolog.Logger
}

// Records is the store of result records. docdb.Store implements it: Existing answers
// for all ids in one query; InsertIfAbsent creates the record with _id = id only if none
// exists (a record is never overwritten) and reports whether the stored record is doc.
type Records interface {
	Existing(ctx context.Context, ids []string) (map[string]bool, error)
	InsertIfAbsent(ctx context.Context, id string, doc any) (bool, error)
}

// Claims reserves jobs. docdb.Store (on a claims collection) implements it: Claim
// returns true when holder holds the claim (taking over an expired one), Renew extends it
// or fails with a permanent (not transient) error when it was lost, Release drops holder's
// claims on ids (those still held), in one request. Every method must return by ctx's
// deadline: the wrapper bounds renewals well under the lease.
type Claims interface {
	Claim(ctx context.Context, id, holder string, lease time.Duration) (bool, error)
	Renew(ctx context.Context, id, holder string, lease time.Duration) error
	Release(ctx context.Context, holder string, ids []string) error
}

// Config holds a wrapper run's settings.
type Config struct {
	// JobDir holds the job files (<input>/job_dict on Code Ocean).
	JobDir string
	// OutputDir receives one result folder per job (named by its hash) and the skip_ and
	// failed_ markers.
	OutputDir string
	// ScratchDir holds per-job working files that are not published.
	ScratchDir string
	// Parameters is analysis_parameters.json; Overrides come from the command line.
	Parameters params.File
	Overrides  map[string]any
	// ParameterSchema and OutputSchema validate parameters and outputs (nil: anything).
	ParameterSchema, OutputSchema *params.Schema
	// Code identifies the analysis code; CodeNote goes into the record's notes.
	Code     identity.CodeInfo
	CodeNote string
	// DryRun runs the analysis and writes metadata.nd.json but publishes nothing.
	DryRun bool
	// Bucket is where results go: <Bucket>/<hash>/.
	Bucket storage.URL
	// Experimenters, PipelineName and Pipeline go into the record.
	Experimenters []string
	PipelineName  string
	Pipeline      *identity.Code
	// Notes are added to the record's notes.
	Notes string
	// Timeout bounds one job's analysis (0: none).
	Timeout time.Duration
	// Lease is the claim's lease, renewed every Lease/3 while the job runs, each renewal
	// bounded by Lease/4; the job stops when Lease less Lease/8 passes without one.
	Lease time.Duration
	// UploadConcurrency bounds simultaneous file uploads.
	UploadConcurrency int
	// ConcurrentJobs bounds the jobs of the run in progress at once (default 4): their
	// claims, prefix listings, uploads and records overlap, while their analyses run one at
	// a time (a task has the CPUs of one analysis), taking turns in about job order.
	// 1 runs the jobs strictly one after another.
	ConcurrentJobs int
	// Holder names this wrapper in claims.
	Holder string
}

// Deps are the services a run uses. Records and Claims may be nil in a dry run (then
// nothing is skipped); Store must be set unless DryRun.
type Deps struct {
	// Records are this collection's result records. Its Existing is asked whether this very
	// record exists (before uploading into a prefix, and for jobs the dispatcher already
	// looked up): it need not know of migrated records.
	Records Records
	// Migrated, when set, is asked instead of Records, once per run, which of the jobs the
	// dispatcher did not vouch for (no analysis_code of the same identity in the job file)
	// are done, counting results the Python wrapper recorded under its own hash
	// (docdb.ScopeUpstream); reading those may cost a pass over the collection.
	Migrated interface {
		Existing(ctx context.Context, ids []string) (map[string]bool, error)
	}
	Claims Claims
	Store  storage.Store
	Log    zerolog.Logger
	// LogOutput is where Log writes (os.Stderr when nil); an analysis' own log lines go
	// there and to the job's analysis.log.
	LogOutput io.Writer
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (d Deps) logOutput() io.Writer {
	if d.LogOutput == nil {
		return os.Stderr
	}
	return d.LogOutput
}

// Status is a job's outcome.
type Status string

// Job outcomes.
const (
	StatusDone    Status = "done"
	StatusDryRun  Status = "dry-run"
	StatusSkipped Status = "skipped"
	StatusFailed  Status = "failed"
	// StatusDeferred means another wrapper holds the job's claim: retry later.
	StatusDeferred Status = "deferred"
)

// Result is one job's outcome.
type Result struct {
	Job      string        `json:"job"`
	Hash     string        `json:"hash,omitempty"`
	Status   Status        `json:"status"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	err      error
}

// Summary is a run's outcome.
type Summary struct {
	Results []Result
}

// Count returns how many jobs ended with status s.
func (s Summary) Count(st Status) int {
	n := 0
	for _, r := range s.Results {
		if r.Status == st {
			n++
		}
	}
	return n
}

// Line is the run's one-line account.
func (s Summary) Line() string {
	return fmt.Sprintf("%d jobs: %d ran, %d dry-run, %d skipped as done, %d failed, %d deferred (claimed elsewhere)",
		len(s.Results), s.Count(StatusDone), s.Count(StatusDryRun), s.Count(StatusSkipped), s.Count(StatusFailed), s.Count(StatusDeferred))
}

// Err summarises failures for the exit code: nil when every job was done or skipped;
// transient when any failure was transient or a job was deferred (a retry may finish
// them); otherwise permanent.
func (s Summary) Err() error {
	failed, transient := 0, false
	var first error
	for _, r := range s.Results {
		switch r.Status {
		case StatusFailed:
			failed++
			if first == nil {
				first = r.err
			}
			if fault.IsTransient(r.err) {
				transient = true
			}
		case StatusDeferred:
			failed++
			transient = true
			if first == nil {
				first = r.err
			}
		}
	}
	if failed == 0 {
		return nil
	}
	err := fmt.Errorf("%d of %d jobs did not finish; first: %w", failed, len(s.Results), first)
	if transient {
		return fault.Transient(err)
	}
	return fault.Permanent(err)
}

// Run processes every job file in cfg.JobDir, in name order, up to cfg.ConcurrentJobs at
// once with one analysis at a time; one failing job does not stop the others. It returns
// an error only when the run cannot start (bad job folder or settings) or is cancelled;
// job failures are in the Summary (see Summary.Err).
func Run(ctx context.Context, cfg Config, deps Deps, a Analysis) (Summary, error) {
	if err := cfg.check(deps); err != nil {
		return Summary{}, err
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	files, err := job.ReadDir(cfg.JobDir)
	if err != nil {
		return Summary{}, err
	}
	if len(files) == 0 {
		deps.Log.Warn().Str("job_dir", cfg.JobDir).Msg("no job files: nothing to do")
	}
	for _, dir := range []string{cfg.OutputDir, cfg.ScratchDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return Summary{}, fault.Usagef("creating %s: %w", dir, err)
		}
	}
	if st, err := os.Stat(cfg.JobDir); err == nil && st.Mode().IsRegular() {
		// The dispatcher's placeholder handed over as the job folder (Code Ocean's generated
		// pipeline does that when nothing was dispatched): pass it on, so the task has an
		// output and the run's results say why nothing ran.
		note, err := os.ReadFile(cfg.JobDir)
		if err == nil {
			err = os.WriteFile(filepath.Join(cfg.OutputDir, job.NoJobsFile), note, 0o644)
		}
		if err != nil {
			return Summary{}, fmt.Errorf("passing on the dispatcher's placeholder: %w", err)
		}
	}
	r := &runner{cfg: cfg, deps: deps, analysis: a}
	defer r.releaseClaims(ctx)
	jobs := r.resolveAll(files)
	recorded, lookupErr := r.recorded(ctx, jobs)
	// Up to ConcurrentJobs jobs at once (g.Go waits for a free slot); their analyses take
	// turns (runner.analysing). A cancelled run starts no more jobs.
	results := make([]*Result, len(jobs))
	var g errgroup.Group
	g.SetLimit(cfg.ConcurrentJobs)
	for i, p := range jobs {
		if ctx.Err() != nil {
			break
		}
		p.recorded, p.lookupErr = recorded[p.id.Hash], lookupErr
		g.Go(func() error {
			log := deps.Log.With().Str("job", job.Stem(p.file.Path)).Logger()
			log.Info().Int("index", i+1).Int("of", len(files)).Msg("job starting")
			res := r.runJob(ctx, p, log)
			ev := log.Info()
			if res.Status == StatusFailed || res.Status == StatusDeferred {
				ev = log.Error().Err(res.err)
			}
			ev.Str("status", string(res.Status)).Str("hash", res.Hash).Str("duration", res.Duration.Round(time.Millisecond).String()).Msg("job finished")
			results[i] = &res
			return nil
		})
	}
	_ = g.Wait() // jobs return no error: their failures are in their Results
	var sum Summary
	for _, res := range results {
		if res == nil { // not started: the run was cancelled
			continue
		}
		if errors.Is(res.err, context.Canceled) && ctx.Err() != nil {
			continue
		}
		sum.Results = append(sum.Results, *res)
	}
	if ctx.Err() != nil {
		return sum, ctx.Err()
	}
	return sum, nil
}

func (cfg *Config) check(deps Deps) error {
	switch {
	case cfg.JobDir == "" || cfg.OutputDir == "":
		return fault.Usagef("job folder and output folder must be set")
	case !cfg.DryRun && cfg.Bucket == (storage.URL{}):
		return fault.Usagef("publishing needs the analysis bucket (--analysis_bucket or ANALYSIS_BUCKET); use --dry_run=1 to run without publishing")
	case !cfg.DryRun && (deps.Records == nil || deps.Claims == nil || deps.Store == nil):
		return fault.Usagef("publishing needs DocDB (--docdb_uri / DOCDB_URI and --results_collection / DOCDB_COLLECTION); use --dry_run=1 to run without publishing")
	case !cfg.DryRun && cfg.Code.Version == "":
		return fault.Usagef("publishing needs a code version (--code_version, --release_version with --commits_since_release, or --image_revision): results of unversioned code cannot be told apart")
	case !cfg.DryRun && cfg.Code.URL == "":
		return fault.Usagef("publishing needs the code URL (--code_url / AIND_CODE_URL, or CO_CAPSULE_ID)")
	}
	if cfg.ScratchDir == "" {
		cfg.ScratchDir = filepath.Join(os.TempDir(), "aind-wrapper-scratch")
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.UploadConcurrency < 1 {
		cfg.UploadConcurrency = 16
	}
	if cfg.ConcurrentJobs < 1 {
		cfg.ConcurrentJobs = 4
	}
	if cfg.Holder == "" {
		host, _ := os.Hostname()
		cfg.Holder = fmt.Sprintf("%s:%d:%d", host, os.Getpid(), time.Now().UnixNano())
	}
	return nil
}
