package resultscmd

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/results"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// lsCmd lists a result's files.
type lsCmd struct {
	Result string `arg:"" name:"hash" help:"A result hash (its record gives the location), or a result's s3:// URL or local folder."`
	recordFlags
}

// Run lists the files.
func (c *lsCmd) Run(ctx context.Context) error {
	loc, err := c.location(ctx)
	if err != nil {
		return err
	}
	store, err := storage.New(ctx, storage.Options{})
	if err != nil {
		return err
	}
	files, err := results.ListFiles(ctx, store, loc)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("%s: no files", loc)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	var total int64
	for _, f := range files {
		fmt.Fprintf(tw, "%d\t %s\n", f.Size, f.Path)
		total += f.Size
	}
	fmt.Fprintf(tw, "%d\t total (%d files in %s)\n", total, len(files), loc)
	return tw.Flush()
}

// location is the result's URL: given directly, or the location in its record.
func (c *lsCmd) location(ctx context.Context) (storage.URL, error) {
	if strings.Contains(c.Result, "://") || strings.ContainsRune(c.Result, os.PathSeparator) {
		return storage.Parse(c.Result)
	}
	records, _, conn, err := c.open(ctx)
	if err != nil {
		return storage.URL{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	r, err := results.FindOne(ctx, records, c.Result)
	if err != nil {
		return storage.URL{}, err
	}
	return storage.Parse(r.Location)
}
