package wrapper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/logs"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/result"
)

type runner struct {
	cfg      Config
	deps     Deps
	analysis Analysis
	// analysing is held while a job's analysis runs: one at a time, whatever
	// Config.ConcurrentJobs lets overlap around them.
	analysing sync.Mutex
	mu        sync.Mutex
	// claimed lists the jobs whose claims this run took (under mu), for releaseClaims.
	claimed []string
}

// writeMarker writes the job's marker (name: result.SkipMarker or result.FailedMarker) in
// the output folder; a failure to write it is logged, not fatal.
func (r *runner) writeMarker(name string, m result.Marker) {
	m.Time = identity.Timestamp(r.deps.Now())
	if err := result.WriteJSON(filepath.Join(r.cfg.OutputDir, name), m); err != nil {
		r.deps.Log.Error().Err(err).Str("job", m.Job).Msg("writing marker")
	}
}

// pending is a job before it runs: its file, its resolved identity (or why it has none),
// and whether the task's one batched lookup found it recorded (or why it could not say).
type pending struct {
	file      job.File
	id        job.Resolved
	err       error
	recorded  bool
	lookupErr error
}

// resolveAll resolves every job of the task (see resolve) before any runs, so that one
// batched lookup answers which are recorded.
func (r *runner) resolveAll(files []job.File) []pending {
	jobs := make([]pending, len(files))
	for i, f := range files {
		jobs[i].file = f
		jobs[i].id, jobs[i].err = r.resolve(f.Job)
	}
	return jobs
}

// recorded asks, in one lookup for the whole task, which jobs' results are recorded (none
// without a record store: a dry run without DocDB). A job the dispatcher vouched for (its
// file's analysis_code has the identity the wrapper computed, so the dispatcher looked it
// up, migrated records included, when it wrote the file) is looked up in Records; the
// others in Deps.Migrated when set, which also knows the Python wrapper's records: a second
// query only when a task mixes both.
func (r *runner) recorded(ctx context.Context, jobs []pending) (map[string]bool, error) {
	if r.deps.Records == nil {
		return nil, nil
	}
	var own, migrated []string
	for _, p := range jobs {
		switch {
		case p.err != nil:
		case r.deps.Migrated == nil || vouched(p):
			own = append(own, p.id.Hash)
		default:
			migrated = append(migrated, p.id.Hash)
		}
	}
	found := map[string]bool{}
	for _, q := range []struct {
		store interface {
			Existing(context.Context, []string) (map[string]bool, error)
		}
		ids []string
	}{{r.deps.Records, own}, {r.deps.Migrated, migrated}} {
		if len(q.ids) == 0 {
			continue
		}
		got, err := q.store.Existing(ctx, q.ids)
		if err != nil {
			return nil, fmt.Errorf("checking for existing results of %d jobs: %w", len(q.ids), err)
		}
		maps.Copy(found, got)
	}
	return found, nil
}

// vouched reports whether the job file carries the identity the wrapper computed for it.
func vouched(p pending) bool {
	if p.file.Job.AnalysisCode == nil {
		return false
	}
	h, err := p.file.Job.AnalysisCode.Hash()
	return err == nil && h == p.id.Hash
}

// runJob is one job's life, in order: skip it if its result is recorded, claim it, look
// at its prefix (a result published meanwhile is recorded or adopted, not recomputed), run
// the analysis, publish the result, record it. Each step is a function of its own; runJob
// only sequences them and turns what they find into the job's Result (and its skip_ or
// failed_ marker).
func (r *runner) runJob(ctx context.Context, p pending, log zerolog.Logger) Result {
	start := r.deps.Now()
	res := r.live(ctx, p, log)
	res.Duration = r.deps.Now().Sub(start)
	return res
}

func (r *runner) live(ctx context.Context, p pending, log zerolog.Logger) Result {
	res := Result{Job: job.Stem(p.file.Path)}
	if p.err != nil {
		return r.failed(res, fmt.Errorf("job %s: %w", p.file.Path, p.err))
	}
	id := p.id
	res.Hash = id.Hash
	log = log.With().Str("hash", id.Hash).Logger()
	logResolved(id, log)
	switch {
	case p.lookupErr != nil:
		return r.failed(res, p.lookupErr)
	case p.recorded:
		return r.skipped(res, "a result record with this identity exists")
	}

	c, status, err := r.takeClaim(ctx, id.Hash, log)
	switch {
	case err != nil:
		return r.failed(res, err)
	case status == StatusDeferred:
		res.Status, res.err = StatusDeferred, fault.Transient(fmt.Errorf("job %s (%s) is being run by another wrapper", res.Job, id.Hash))
		res.Error = res.err.Error()
		return res
	}
	defer c.release()

	pub, fence := r.publisher(log), r.fence(c.held, id.Hash)
	var before result.Prefix
	if !r.cfg.DryRun {
		// One listing of the prefix, now that the job is ours: empty on a fresh job; a
		// manifest.json there means the result was published since the batched lookup
		// (recorded here: skip) or for another collection, or its record was lost (adopt:
		// never redo it); other objects are a crashed attempt's, cleared before the upload.
		before, err = pub.Look(c.ctx, id.Hash)
		if err != nil {
			return r.failed(res, fmt.Errorf("job %s: %w", res.Job, claimStopped(ctx, c.ctx, err)))
		}
		if before.Complete() {
			return r.complete(ctx, c, pub, fence, res)
		}
	}

	r.analysing.Lock()
	outDir, meta, err := r.run(ctx, c.ctx, p.file, id, log)
	r.analysing.Unlock()
	if err != nil {
		return r.failed(res, fmt.Errorf("job %s: %w", res.Job, err))
	}
	if r.cfg.DryRun {
		res.Status = StatusDryRun
		return res
	}

	m, err := pub.Upload(c.ctx, fence, id.Hash, outDir, before)
	if err == nil {
		err = pub.Record(c.ctx, fence, m, meta)
	}
	if errors.Is(err, result.ErrRecordedElsewhere) {
		// Our claim lapsed and another wrapper finished the job: its record and result
		// stand; nothing of ours was recorded and nothing under the prefix was deleted.
		log.Warn().Err(err).Msg("the job was recorded by another wrapper; leaving its result alone")
		return r.skipped(res, err.Error()+"; this run's result was not recorded")
	}
	if err != nil {
		return r.failed(res, fmt.Errorf("job %s: publishing %s: %w", res.Job, meta.Location, claimStopped(ctx, c.ctx, err)))
	}
	res.Status = StatusDone
	return res
}

// complete ends a claimed job whose prefix holds a published result: recorded here since
// the batched lookup (another wrapper finished it first), it is skipped; otherwise the bucket,
// which every results collection shares, has the same work complete (recorded for another
// collection, or its record lost), and it is adopted: recorded here, never recomputed. Adopt
// records only a result that is provably the job's own (its content the manifest's, its
// metadata describing this job); any other fails the job permanently, and nothing under
// the prefix is touched (it is not this job's to clear).
func (r *runner) complete(ctx context.Context, c claimed, pub result.Publisher, fence jobFence, res Result) Result {
	done, err := r.isDone(c.ctx, res.Hash)
	if err != nil {
		return r.failed(res, fmt.Errorf("job %s: %w", res.Job, claimStopped(ctx, c.ctx, err)))
	}
	if done {
		return r.skipped(res, "a result record with this identity exists")
	}
	adopted, err := pub.Adopt(c.ctx, fence, res.Hash)
	if err != nil {
		return r.failed(res, fmt.Errorf("job %s: %w", res.Job, claimStopped(ctx, c.ctx, err)))
	}
	if !adopted { // the manifest went away between the listing and Adopt's read of it
		return r.failed(res, fault.Transient(fmt.Errorf("job %s: the result under %s changed while it was read; a retry looks again", res.Job, pub.Bucket.Join(res.Hash))))
	}
	return r.skipped(res, "a complete result with this identity was already in the bucket (recorded for another collection, or its record was lost): recorded here, not recomputed")
}

// failed marks res failed with err and writes its failed_ marker.
func (r *runner) failed(res Result, err error) Result {
	res.Status, res.err, res.Error = StatusFailed, err, err.Error()
	r.writeMarker(result.FailedMarker(res.Job), result.Marker{Job: res.Job, Hash: res.Hash, Status: string(StatusFailed), Reason: err.Error()})
	return res
}

// skipped marks res skipped for reason and writes its skip_ marker.
func (r *runner) skipped(res Result, reason string) Result {
	res.Status = StatusSkipped
	r.writeMarker(result.SkipMarker(res.Job), result.Marker{Job: res.Job, Hash: res.Hash, Status: string(StatusSkipped), Reason: reason})
	return res
}

// resolve computes the job's parameters and identity with the function the dispatcher uses
// (fixed < command line < job, then the schema's defaults) and validates the parameters.
func (r *runner) resolve(j job.Job) (job.Resolved, error) {
	id, err := j.Identity(job.Inputs{Code: r.cfg.Code, Parameters: r.cfg.Parameters, Overrides: r.cfg.Overrides, Schema: r.cfg.ParameterSchema})
	if err != nil {
		return id, err
	}
	if err := r.cfg.ParameterSchema.Validate("parameters", id.Parameters); err != nil {
		return id, err
	}
	return id, nil
}

// logResolved logs each override of the job's parameters and the schema defaults applied.
func logResolved(id job.Resolved, log zerolog.Logger) {
	for _, o := range id.Overridden {
		log.Info().Str("parameter", o.Key).Interface("old", o.Old).Str("old_source", o.Previous).
			Interface("new", o.New).Str("source", o.Source).Msg("parameter overridden")
	}
	if len(id.Filled) > 0 {
		log.Info().Strs("parameters", id.Filled).Msg("schema defaults applied")
	}
}

// run runs the analysis in a fresh result folder <output>/<hash>/ (and a scratch folder,
// removed after), validates its outputs and writes outputs.json and metadata.nd.json. A
// failed run keeps its log, error.txt and a metadata.nd.json saying what ran on what (a
// report shows it); none of it is published. ctx is the wrapper run's, jobCtx the job's
// (cancelled when the claim is lost: then the error says so, and is transient).
func (r *runner) run(ctx, jobCtx context.Context, f job.File, id job.Resolved, log zerolog.Logger) (string, identity.Metadata, error) {
	outDir := filepath.Join(r.cfg.OutputDir, id.Hash)
	if err := freshDir(outDir); err != nil {
		return outDir, identity.Metadata{}, err
	}
	scratch := filepath.Join(r.cfg.ScratchDir, id.Hash)
	if err := freshDir(scratch); err != nil {
		return outDir, identity.Metadata{}, err
	}
	defer os.RemoveAll(scratch)

	outputs, started, ended, err := r.analyse(jobCtx, f, id.Parameters, id.Hash, outDir, scratch, log)
	if err == nil {
		err = r.cfg.OutputSchema.Validate("outputs", outputs)
	} else if lost := claimStopped(ctx, jobCtx, err); lost != err {
		err = lost
	} else if cause := context.Cause(jobCtx); cause != nil && ctx.Err() == nil {
		err = fmt.Errorf("%w (%v)", err, cause)
	}
	if err != nil {
		r.writeError(outDir, err)
		_, _ = r.writeMetadata(outDir, id.Code, id.Hash, started, ended, map[string]any{}, "Failed: "+err.Error())
		return outDir, identity.Metadata{}, fmt.Errorf("analysis: %w", err)
	}
	if err := result.WriteJSON(filepath.Join(outDir, result.OutputsFile), outputs); err != nil {
		return outDir, identity.Metadata{}, err
	}
	meta, err := r.writeMetadata(outDir, id.Code, id.Hash, started, ended, outputs, "")
	return outDir, meta, err
}

// writeMetadata writes the job's metadata.nd.json: the record of what ran, on what, when,
// with what outputs. note is added to the record's notes.
func (r *runner) writeMetadata(outDir string, code identity.Code, hash string, started, ended time.Time, outputs map[string]any, note string) (identity.Metadata, error) {
	notes := strings.TrimSpace(strings.Join([]string{r.cfg.CodeNote, r.cfg.Notes, note}, "\n"))
	meta := identity.NewMetadata(identity.Run{
		Code: code, Hash: hash, Location: r.cfg.Bucket.Join(hash).String(), Experimenters: r.cfg.Experimenters,
		Start: started, End: ended, Outputs: outputs, Notes: notes,
		PipelineName: r.cfg.PipelineName, Pipeline: r.cfg.Pipeline,
	})
	return meta, result.WriteJSON(filepath.Join(outDir, result.MetadataFile), meta)
}

func (r *runner) isDone(ctx context.Context, hash string) (bool, error) {
	if r.deps.Records == nil {
		return false, nil
	}
	found, err := r.deps.Records.Existing(ctx, []string{hash})
	if err != nil {
		return false, fmt.Errorf("checking for an existing result: %w", err)
	}
	return found[hash], nil
}

// analyse runs the analysis with its inputs on disk and its log captured.
func (r *runner) analyse(ctx context.Context, f job.File, parameters map[string]any, hash, outDir, scratch string, log zerolog.Logger) (map[string]any, time.Time, time.Time, error) {
	paramsFile := filepath.Join(scratch, "parameters.json")
	if err := result.WriteJSON(paramsFile, parameters); err != nil {
		return nil, time.Time{}, time.Time{}, err
	}
	logFile, err := os.Create(filepath.Join(outDir, result.LogFile))
	if err != nil {
		return nil, time.Time{}, time.Time{}, fmt.Errorf("creating analysis log: %w", err)
	}
	defer logFile.Close()
	in := Input{
		Job: f.Job, JobFile: f.Path, Parameters: parameters, ParametersFile: paramsFile, Hash: hash,
		OutputDir: outDir, ScratchDir: scratch, Store: r.deps.Store,
		// JSON lines in analysis.log; on a terminal, readable lines there too.
		Log: log.Output(zerolog.MultiLevelWriter(logs.Writer(r.deps.logOutput()), logFile)),
	}
	if r.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, r.cfg.Timeout, fmt.Errorf("analysis timed out after %s", r.cfg.Timeout))
		defer cancel()
	}
	started := r.deps.Now()
	outputs, err := r.analysis.Run(withLogFile(ctx, logFile), in)
	ended := r.deps.Now()
	if err == nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		if cause := context.Cause(ctx); cause != nil {
			err = fmt.Errorf("%w: %v", err, cause)
		}
	}
	if outputs == nil {
		outputs = map[string]any{}
	}
	return outputs, started, ended, err
}

type logFileKey struct{}

// withLogFile lets a command analysis write its stdout and stderr to the job's log.
func withLogFile(ctx context.Context, f *os.File) context.Context {
	return context.WithValue(ctx, logFileKey{}, f)
}

func logFileFrom(ctx context.Context) io.Writer {
	if f, ok := ctx.Value(logFileKey{}).(*os.File); ok {
		return f
	}
	return io.Discard
}

func (r *runner) writeError(outDir string, err error) {
	text := err.Error() + "\n"
	if tail := tailFile(filepath.Join(outDir, result.LogFile), 40); tail != "" {
		text += "\nlast lines of " + result.LogFile + ":\n" + tail
	}
	_ = os.WriteFile(filepath.Join(outDir, result.ErrorFile), []byte(text), 0o644)
}

// tailFile returns the last n lines of a file ("" if unreadable).
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func freshDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clearing %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	return nil
}
