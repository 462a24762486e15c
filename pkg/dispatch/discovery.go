package dispatch

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// Lister lists objects under a prefix. *storage.Router implements it; the contract is
// storage.Store.List's: every object under the prefix taken as a folder, recursively.
type Lister interface {
	List(ctx context.Context, prefix storage.URL, fn func(storage.Object) error) error
}

// matchFiles lists an asset's location and returns the matched paths: every object or
// "folder" (a path component, as zarr NWB folders named *.nwb) whose name ends with ext,
// the outermost match of each key, sorted and without duplicates.
func matchFiles(ctx context.Context, l Lister, location, ext string) ([]string, error) {
	prefix, err := storage.Parse(location)
	if err != nil {
		return nil, fault.Permanent(fmt.Errorf("asset location: %w", err))
	}
	seen := map[string]bool{}
	var out []string
	err = l.List(ctx, prefix, func(o storage.Object) error {
		parts := strings.Split(o.Rel, "/")
		for i, p := range parts {
			if strings.HasSuffix(p, ext) {
				m := prefix.Join(parts[:i+1]...).String()
				if !seen[m] {
					seen[m] = true
					out = append(out, m)
				}
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

// discovered is the outcome of file discovery for one selected job.
type discovered struct {
	jobs       []job.Job
	noFiles    []string // locations without a match
	listedKeys int
}

// discover finds the job's files and returns the jobs they make: one per file with
// split_files, else one with the assets that had files. A job none of whose assets has a
// match yields no job.
func (d *dispatcher) discover(ctx context.Context, j job.Job) (discovered, error) {
	var res discovered
	var files []string
	keep := make([]int, 0, len(j.S3Location))
	for i, loc := range j.S3Location {
		m, err := matchFiles(ctx, d.lister, loc, d.opts.FileExtension)
		if err != nil {
			return res, fmt.Errorf("finding %s files under %s (record %s): %w", d.opts.FileExtension, loc, j.DocDBRecordID[i], err)
		}
		if len(m) == 0 {
			res.noFiles = append(res.noFiles, loc)
			continue
		}
		files = append(files, m...)
		keep = append(keep, i)
	}
	if len(keep) == 0 {
		return res, nil
	}
	if d.opts.SplitFiles {
		for _, f := range files {
			c := j
			c.FileLocation = []string{f}
			res.jobs = append(res.jobs, c)
		}
		return res, nil
	}
	c := j
	c.S3Location, c.DocDBRecordID, c.AssetName = nil, nil, nil
	for _, i := range keep {
		c.S3Location = append(c.S3Location, j.S3Location[i])
		c.DocDBRecordID = append(c.DocDBRecordID, j.DocDBRecordID[i])
		if len(j.AssetName) > 0 {
			c.AssetName = append(c.AssetName, j.AssetName[i])
		}
	}
	c.FileLocation = files
	res.jobs = append(res.jobs, c)
	return res, nil
}

// discoverAll runs discovery for the selected jobs with at most Concurrency listings at
// once, and passes the results on in selection order (so output is deterministic), with
// bounded buffering: a slow consumer holds back selection instead of filling memory.
func (d *dispatcher) discoverAll(ctx context.Context, produce func(context.Context, func(job.Job) error) error, consume func(job.Job) error) error {
	g, ctx := errgroup.WithContext(ctx)
	type pending struct {
		done chan struct{}
		res  discovered
		err  error
	}
	queue := make(chan *pending, d.opts.Concurrency*4)
	sem := make(chan struct{}, d.opts.Concurrency)
	g.Go(func() error {
		defer close(queue)
		return produce(ctx, func(j job.Job) error {
			p := &pending{done: make(chan struct{})}
			select {
			case queue <- p:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				close(p.done)
				return ctx.Err()
			}
			go func() {
				defer close(p.done)
				defer func() { <-sem }()
				p.res, p.err = d.discover(ctx, j)
			}()
			return nil
		})
	})
	g.Go(func() error {
		for p := range queue {
			<-p.done
			if p.err != nil {
				return p.err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			d.progress.Count("assets listed", 1)
			for _, loc := range p.res.noFiles {
				d.stats.AssetsWithoutFiles++
				d.log.Warn().Str("location", loc).Str("extension", d.opts.FileExtension).Msg("no matching files in asset, skipping it")
			}
			for _, j := range p.res.jobs {
				if err := consume(j); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return g.Wait()
}
