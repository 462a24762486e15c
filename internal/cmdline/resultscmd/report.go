package resultscmd

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/cli"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/results"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// reportCmd summarises a run's output folder.
type reportCmd struct {
	Folder   string `arg:"" name:"run" help:"The run's output folder: the wrapper's --output_directory (or Nextflow's --outdir), local or s3://."`
	HTML     string `name:"html" default:"report.html" help:"Where to write the HTML page (none: no page; an empty value means the default)."`
	Markdown string `name:"markdown" aliases:"md" default:"none" help:"Where to write the Markdown summary (a file, - for stdout; default none: no summary)."`
	recordFlags

	globals *cli.Globals
}

// Run writes the report.
func (c *reportCmd) Run(ctx context.Context) error {
	src, err := storage.Parse(c.Folder)
	if err != nil {
		return fault.Usage(err)
	}
	if src.IsLocal() {
		if st, err := os.Stat(src.Path); err != nil || !st.IsDir() {
			return fault.Usagef("run folder %s: not a folder", src.Path)
		}
	}
	store, err := storage.New(ctx, storage.Options{})
	if err != nil {
		return err
	}
	run, err := results.LoadRun(ctx, store, src)
	if err != nil {
		return err
	}
	if len(run.Jobs) == 0 {
		return fault.Usagef("%s: no job results or skip_/failed_ markers: not a wrapper output folder", src)
	}
	log := c.globals.Logger()
	if c.Configured() && c.ResultsCollection != "" && run.Count(results.StatusSkipped) > 0 {
		// Optional: a report without DocDB still says what was skipped and why.
		if err := c.enrich(ctx, &run); err != nil {
			log.Warn().Err(err).Msg("skipped jobs shown without their inputs and parameters")
		}
	}
	if err := writeTo(c.Markdown, run.WriteMarkdown); err != nil {
		return err
	}
	if err := writeTo(c.HTML, run.WriteHTML); err != nil {
		return err
	}
	log.Info().Str("html", c.HTML).Msg(run.Summary())
	return nil
}

// enrich fills skipped jobs' details from their records.
func (c *reportCmd) enrich(ctx context.Context, run *results.Run) error {
	records, _, conn, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = run.Enrich(ctx, records)
	return err
}

// writeTo writes with fn to path ("-": stdout, "none": nowhere).
func writeTo(path string, fn func(io.Writer) error) error {
	switch path {
	case "none":
		return nil
	case "-":
		return fn(os.Stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return fault.Usagef("writing report: %w", err)
	}
	if err := fn(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}
