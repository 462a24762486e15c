package results

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/result"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// Job statuses in a run report.
const (
	StatusDone    = "done"
	StatusDryRun  = "dry-run"
	StatusSkipped = "skipped"
	StatusFailed  = "failed"
)

// maxPlotBytes bounds one embedded plot, so a report stays a page, not an archive.
const maxPlotBytes = 8 << 20

// logTailLines is how much of a failed job's log the report shows.
const logTailLines = 30

// Plot is an image a job produced.
type Plot struct {
	Name string
	PNG  []byte
}

// Job is one job of a run, as its outputs tell it.
type Job struct {
	Name       string // the job file's stem (known for skipped and failed jobs)
	Hash       string
	Status     string
	Inputs     []string
	Parameters map[string]any
	Outputs    map[string]any
	Start, End time.Time
	Reason     string // why it was skipped or failed
	LogTail    string // the end of analysis.log (failed jobs)
	Plots      []Plot
	Files      int // files in its result folder
}

// Duration is the job's analysis time (0 if unknown).
func (j Job) Duration() time.Duration {
	if j.Start.IsZero() || j.End.IsZero() {
		return 0
	}
	return j.End.Sub(j.Start)
}

// Run is one pipeline run's outcome, read from its output folder.
type Run struct {
	Source string
	Jobs   []Job
	// Start and End span the jobs' analyses.
	Start, End time.Time
}

// Count returns how many jobs have status s.
func (r Run) Count(s string) int {
	n := 0
	for _, j := range r.Jobs {
		if j.Status == s {
			n++
		}
	}
	return n
}

// LoadRun reads a run's output folder (a local folder or s3:// prefix): the result folders
// <hash>/ (metadata.nd.json, error.txt, analysis.log, *.png) and the skip_ and failed_
// markers. Jobs are ordered failed, then done, then skipped, each by name and hash.
func LoadRun(ctx context.Context, store Reader, root storage.URL) (Run, error) {
	folders := map[string][]storage.Object{}
	var markers []storage.Object
	err := store.List(ctx, root, func(o storage.Object) error {
		dir, _, nested := strings.Cut(o.Rel, "/")
		switch {
		case nested:
			// A folder name from a listing (an S3 key is any string) is data: only a
			// plain name is taken as a result folder.
			if err := storage.CheckName(dir); err != nil {
				return fmt.Errorf("run folder %s: object %s: result folder name: %w", root, o.URL, err)
			}
			folders[dir] = append(folders[dir], o)
		default:
			if _, _, ok := result.ParseMarker(o.Rel); ok {
				markers = append(markers, o)
			}
		}
		return nil
	})
	if err != nil {
		return Run{}, err
	}
	run := Run{Source: root.String()}
	byHash := map[string]*Job{}
	var hashes []string
	for h := range folders {
		hashes = append(hashes, h)
	}
	sort.Strings(hashes)
	for _, h := range hashes {
		j, ok, err := loadFolder(ctx, store, root.Join(h), h, folders[h])
		if err != nil {
			return Run{}, err
		}
		if ok {
			run.Jobs = append(run.Jobs, j)
		}
	}
	for i := range run.Jobs {
		byHash[run.Jobs[i].Hash] = &run.Jobs[i]
	}
	for _, o := range markers {
		var m result.Marker
		if err := readJSON(ctx, store, o.URL, &m); err != nil {
			return Run{}, err
		}
		job, failed, _ := result.ParseMarker(o.Rel)
		if m.Job == "" {
			m.Job = job
		}
		status := StatusSkipped
		if failed {
			status = StatusFailed
		}
		if j := byHash[m.Hash]; m.Hash != "" && j != nil {
			j.Name, j.Reason = m.Job, m.Reason
			if status == StatusFailed {
				j.Status = StatusFailed
			}
			continue
		}
		j := Job{Name: m.Job, Hash: m.Hash, Status: status, Reason: m.Reason}
		j.End, _ = time.Parse(time.RFC3339Nano, m.Time)
		run.Jobs = append(run.Jobs, j)
	}
	rank := map[string]int{StatusFailed: 0, StatusDone: 1, StatusDryRun: 2, StatusSkipped: 3}
	sort.SliceStable(run.Jobs, func(a, b int) bool {
		ja, jb := run.Jobs[a], run.Jobs[b]
		if rank[ja.Status] != rank[jb.Status] {
			return rank[ja.Status] < rank[jb.Status]
		}
		if ja.Name != jb.Name {
			return ja.Name < jb.Name
		}
		return ja.Hash < jb.Hash
	})
	for _, j := range run.Jobs {
		if !j.Start.IsZero() && (run.Start.IsZero() || j.Start.Before(run.Start)) {
			run.Start = j.Start
		}
		if j.End.After(run.End) {
			run.End = j.End
		}
	}
	return run, nil
}

// loadFolder reads one <hash>/ result folder; ok is false for folders that are not
// results (no metadata, error or log file).
func loadFolder(ctx context.Context, store Reader, dir storage.URL, hash string, objs []storage.Object) (Job, bool, error) {
	j := Job{Hash: hash, Files: len(objs)}
	have := map[string]bool{}
	for _, o := range objs {
		rel := strings.TrimPrefix(o.Rel, hash+"/")
		have[rel] = true
		if strings.EqualFold(pathExt(rel), ".png") && o.Size <= maxPlotBytes {
			b, err := readAll(ctx, store, o.URL)
			if err != nil {
				return j, false, err
			}
			j.Plots = append(j.Plots, Plot{Name: rel, PNG: b})
		}
	}
	if !have[result.MetadataFile] && !have[result.ErrorFile] && !have[result.LogFile] {
		return j, false, nil
	}
	switch {
	case have[result.ErrorFile]:
		j.Status = StatusFailed
		b, err := readAll(ctx, store, dir.Join(result.ErrorFile))
		if err != nil {
			return j, false, err
		}
		reason, _, _ := strings.Cut(string(b), "\n")
		j.Reason = reason
	case have[result.MetadataFile] && have[result.ManifestFile]:
		j.Status = StatusDone
	case have[result.MetadataFile]:
		j.Status = StatusDryRun
	default:
		j.Status = StatusFailed
	}
	if have[result.MetadataFile] {
		b, err := readAll(ctx, store, dir.Join(result.MetadataFile))
		if err != nil {
			return j, false, err
		}
		rec, err := result.ParseRecord(b)
		if err != nil {
			return j, false, fmt.Errorf("%s: %w", dir.Join(result.MetadataFile), err)
		}
		p := rec.Process()
		j.Inputs, j.Parameters, j.Outputs = rec.Inputs(), p.Code.Parameters, p.OutputParameters
		j.Start, _ = time.Parse(time.RFC3339Nano, p.StartDateTime)
		j.End, _ = time.Parse(time.RFC3339Nano, p.EndDateTime)
	}
	if j.Status == StatusFailed && have[result.LogFile] {
		b, err := readAll(ctx, store, dir.Join(result.LogFile))
		if err != nil {
			return j, false, err
		}
		j.LogTail = tailLines(string(b), logTailLines)
	}
	return j, true, nil
}

func pathExt(p string) string {
	if i := strings.LastIndex(p, "."); i >= 0 && !strings.Contains(p[i:], "/") {
		return p[i:]
	}
	return ""
}

func readAll(ctx context.Context, store Reader, u storage.URL) ([]byte, error) {
	rc, err := store.Open(ctx, u)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", u, err)
	}
	return b, nil
}

func readJSON(ctx context.Context, store Reader, u storage.URL, v any) error {
	b, err := readAll(ctx, store, u)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("reading %s: %w", u, err)
	}
	return nil
}

// tailLines returns the last n lines of s.
func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Enrich fills in skipped jobs' inputs, parameters and outputs from their records: a run
// keeps no copy of a result it skipped, only the marker naming its hash. It returns how
// many jobs it filled.
func (r *Run) Enrich(ctx context.Context, finder RecordFinder) (int, error) {
	var hashes []string
	for _, j := range r.Jobs {
		if j.Status == StatusSkipped && j.Hash != "" && j.Parameters == nil {
			hashes = append(hashes, j.Hash)
		}
	}
	if len(hashes) == 0 {
		return 0, nil
	}
	recs, err := Query(ctx, finder, Filter{Hashes: hashes}, false)
	if err != nil {
		return 0, fmt.Errorf("reading the records of skipped jobs: %w", err)
	}
	byID := make(map[string]result.Record, len(recs))
	for _, rec := range recs {
		byID[rec.ID] = rec
	}
	n := 0
	for i := range r.Jobs {
		j := &r.Jobs[i]
		if rec, ok := byID[j.Hash]; ok && j.Status == StatusSkipped && j.Parameters == nil {
			p := rec.Process()
			j.Inputs, j.Parameters, j.Outputs = rec.Inputs(), p.Code.Parameters, p.OutputParameters
			n++
		}
	}
	return n, nil
}
