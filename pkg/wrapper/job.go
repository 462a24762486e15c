package wrapper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
)

// File names in a job's result folder and markers in the output folder.
const (
	MetadataFile = "metadata.nd.json"
	OutputsFile  = "outputs.json"
	LogFile      = "analysis.log"
	ErrorFile    = "error.txt"
	ManifestFile = "manifest.json"
	// SkipPrefix and FailedPrefix start the per-job markers in the output folder.
	SkipPrefix   = "skip_"
	FailedPrefix = "failed_"
)

type runner struct {
	cfg      Config
	deps     Deps
	analysis Analysis
}

// marker is the content of skip_ and failed_ markers: enough for a report to say what
// happened without reading logs.
type marker struct {
	Job    string `json:"job"`
	Hash   string `json:"hash,omitempty"`
	Status Status `json:"status"`
	Reason string `json:"reason"`
	Time   string `json:"time"`
}

func (r *runner) writeMarker(prefix, stem string, m marker) {
	m.Job, m.Time = stem, identity.Timestamp(r.deps.Now())
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(r.cfg.OutputDir, prefix+stem), append(b, '\n'), 0o644); err != nil {
		r.deps.Log.Error().Err(err).Str("job", stem).Msg("writing marker")
	}
}

// resolveParameters computes the job's identity with the function the dispatcher uses
// (fixed < command line < job, then the schema's defaults), logs each override and
// validates the parameters.
func (r *runner) resolveParameters(j job.Job, log zerolog.Logger) (job.Resolved, error) {
	id, err := j.Identity(job.Inputs{Code: r.cfg.Code, Parameters: r.cfg.Parameters, Overrides: r.cfg.Overrides, Schema: r.cfg.ParameterSchema})
	if err != nil {
		return id, err
	}
	for _, o := range id.Overridden {
		log.Info().Str("parameter", o.Key).Interface("old", o.Old).Str("old_source", o.Previous).
			Interface("new", o.New).Str("source", o.Source).Msg("parameter overridden")
	}
	if len(id.Filled) > 0 {
		log.Info().Strs("parameters", id.Filled).Msg("schema defaults applied")
	}
	if err := r.cfg.ParameterSchema.Validate("parameters", id.Parameters); err != nil {
		return id, err
	}
	return id, nil
}

func (r *runner) runJob(ctx context.Context, f job.File, log zerolog.Logger) (res Result) {
	stem := job.Stem(f.Path)
	start := r.deps.Now()
	res = Result{Job: stem}
	defer func() { res.Duration = r.deps.Now().Sub(start) }()
	fail := func(err error) Result {
		res.Status, res.err, res.Error = StatusFailed, err, err.Error()
		r.writeMarker(FailedPrefix, stem, marker{Hash: res.Hash, Status: StatusFailed, Reason: err.Error()})
		return res
	}

	id, err := r.resolveParameters(f.Job, log)
	if err != nil {
		return fail(fmt.Errorf("job %s: %w", f.Path, err))
	}
	parameters, code, hash := id.Parameters, id.Code, id.Hash
	res.Hash = hash
	log = log.With().Str("hash", hash).Logger()

	if done, err := r.isDone(ctx, hash); err != nil {
		return fail(err)
	} else if done {
		res.Status = StatusSkipped
		r.writeMarker(SkipPrefix, stem, marker{Hash: hash, Status: StatusSkipped, Reason: "a result record with this identity exists"})
		return res
	}

	jobCtx := ctx
	var held *lease
	if !r.cfg.DryRun {
		l, err := r.claim(ctx, hash, log)
		if err != nil {
			return fail(err)
		}
		if l == nil {
			res.Status = StatusDeferred
			res.err = fault.Transient(fmt.Errorf("job %s (%s) is being run by another wrapper", stem, hash))
			res.Error = res.err.Error()
			return res
		}
		held = l
		var cancel context.CancelCauseFunc
		jobCtx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		held.start(jobCtx, cancel)
		defer held.stopAndRelease(ctx)
		// Someone may have finished the job between our check and our claim.
		if done, err := r.isDone(ctx, hash); err != nil {
			return fail(err)
		} else if done {
			res.Status = StatusSkipped
			r.writeMarker(SkipPrefix, stem, marker{Hash: hash, Status: StatusSkipped, Reason: "a result record with this identity exists"})
			return res
		}
	}

	outDir := filepath.Join(r.cfg.OutputDir, hash)
	if err := freshDir(outDir); err != nil {
		return fail(err)
	}
	scratch := filepath.Join(r.cfg.ScratchDir, hash)
	if err := freshDir(scratch); err != nil {
		return fail(err)
	}
	defer os.RemoveAll(scratch)

	outputs, started, ended, err := r.analyse(jobCtx, f, parameters, hash, outDir, scratch, log)
	if err == nil {
		err = r.cfg.OutputSchema.Validate("outputs", outputs)
	} else if lost := claimStopped(ctx, jobCtx, err); lost != err {
		err = lost
	} else if cause := context.Cause(jobCtx); cause != nil && ctx.Err() == nil {
		err = fmt.Errorf("%w (%v)", err, cause)
	}
	if err != nil {
		// The failed attempt keeps its log, the error, and a metadata.nd.json saying what
		// ran on what (a report shows it); none of it is uploaded or recorded.
		r.writeError(outDir, err)
		_, _ = r.writeMetadata(outDir, code, hash, started, ended, map[string]any{}, "Failed: "+err.Error())
		return fail(fmt.Errorf("job %s: analysis: %w", stem, err))
	}
	if err := writeJSON(filepath.Join(outDir, OutputsFile), outputs); err != nil {
		return fail(err)
	}
	meta, err := r.writeMetadata(outDir, code, hash, started, ended, outputs, "")
	if err != nil {
		return fail(err)
	}
	if r.cfg.DryRun {
		res.Status = StatusDryRun
		return res
	}
	if err := r.publish(jobCtx, outDir, hash, meta, held, log); err != nil {
		if errors.Is(err, errRecordedElsewhere) {
			// Our claim lapsed and another wrapper finished the job: its record and result
			// stand; nothing of ours was recorded and nothing under the prefix was deleted.
			log.Warn().Err(err).Msg("the job was recorded by another wrapper; leaving its result alone")
			res.Status = StatusSkipped
			r.writeMarker(SkipPrefix, stem, marker{Hash: hash, Status: StatusSkipped, Reason: err.Error() + "; this run's result was not recorded"})
			return res
		}
		return fail(fmt.Errorf("job %s: publishing %s: %w", stem, meta.Location, claimStopped(ctx, jobCtx, err)))
	}
	res.Status = StatusDone
	return res
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
	return meta, writeJSON(filepath.Join(outDir, MetadataFile), meta)
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

// claim takes the job's claim: nil (and no error) when another wrapper holds it.
func (r *runner) claim(ctx context.Context, hash string, log zerolog.Logger) (*lease, error) {
	sent := time.Now()
	held, err := r.deps.Claims.Claim(ctx, hash, r.cfg.Holder, r.cfg.Lease)
	if err != nil || !held {
		return nil, err
	}
	log.Debug().Str("holder", r.cfg.Holder).Dur("lease", r.cfg.Lease).Msg("job claimed")
	return newLease(r.deps.Claims, hash, r.cfg.Holder, r.cfg.Lease, sent, log), nil
}

// analyse runs the analysis with its inputs on disk and its log captured.
func (r *runner) analyse(ctx context.Context, f job.File, parameters map[string]any, hash, outDir, scratch string, log zerolog.Logger) (map[string]any, time.Time, time.Time, error) {
	paramsFile := filepath.Join(scratch, "parameters.json")
	if err := writeJSON(paramsFile, parameters); err != nil {
		return nil, time.Time{}, time.Time{}, err
	}
	logFile, err := os.Create(filepath.Join(outDir, LogFile))
	if err != nil {
		return nil, time.Time{}, time.Time{}, fmt.Errorf("creating analysis log: %w", err)
	}
	defer logFile.Close()
	in := Input{
		Job: f.Job, JobFile: f.Path, Parameters: parameters, ParametersFile: paramsFile, Hash: hash,
		OutputDir: outDir, ScratchDir: scratch, Store: r.deps.Store,
		Log: log.Output(io.MultiWriter(r.deps.logOutput(), logFile)),
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
	if tail := tailFile(filepath.Join(outDir, LogFile), 40); tail != "" {
		text += "\nlast lines of " + LogFile + ":\n" + tail
	}
	_ = os.WriteFile(filepath.Join(outDir, ErrorFile), []byte(text), 0o644)
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

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", filepath.Base(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
