package resultscmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/cli"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/result"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/results"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// getCmd downloads results.
type getCmd struct {
	Hashes []string `arg:"" optional:"" name:"hash" help:"Result hashes; none: every result the filters match."`
	filterFlags
	recordFlags
	Dest        string `name:"dest" aliases:"destination" short:"d" default:"." type:"path" help:"Local folder; each result lands in <dest>/<hash>/."`
	Concurrency int    `name:"concurrency" env:"AIND_DOWNLOAD_CONCURRENCY" default:"8" help:"Files downloaded at once."`

	globals *cli.Globals
}

// Run executes the download.
func (c *getCmd) Run(ctx context.Context) error {
	log := c.globals.Logger()
	if len(c.Hashes) == 0 && c.isZero() {
		return fault.Usagef("give result hashes or at least one filter (e.g. --analysis_name); refusing to download every result")
	}
	records, assets, conn, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	c.Hash = append(c.Hash, c.Hashes...)
	flt, err := c.filter(ctx, assets)
	if err != nil {
		return err
	}
	recs, err := results.Query(ctx, records, flt, c.Latest)
	if err != nil {
		return err
	}
	found := map[string]bool{}
	var downloads []results.Download
	for _, r := range recs {
		found[r.ID] = true
		loc, err := storage.Parse(r.Location)
		if err != nil {
			return fault.Permanent(fmt.Errorf("result %s: record location: %w", r.ID, err))
		}
		downloads = append(downloads, results.Download{Hash: r.ID, Location: loc})
	}
	var missing []string
	for _, h := range c.Hashes {
		if !found[h] {
			missing = append(missing, h)
		}
	}
	if len(missing) > 0 {
		return fault.Usagef("no result record for %s", strings.Join(missing, ", "))
	}
	if len(downloads) == 0 {
		return fault.Usagef("no result matches the filters")
	}
	store, err := storage.New(ctx, storage.Options{})
	if err != nil {
		return err
	}
	err = results.Get(ctx, store, downloads, results.GetOptions{Dest: c.Dest, Concurrency: c.Concurrency,
		Progress: func(hash string, e result.ManifestEntry) {
			log.Debug().Str("hash", hash).Str("file", e.Path).Int64("size", e.Size).Msg("downloaded and verified")
		}})
	if err != nil {
		return err
	}
	for _, d := range downloads {
		fmt.Printf("%s\t%s\n", d.Hash, storage.MustParse(c.Dest).Join(d.Hash))
	}
	log.Info().Int("results", len(downloads)).Str("dest", c.Dest).Msg("downloaded and verified against manifests")
	return nil
}
