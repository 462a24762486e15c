package resultscmd

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/cli"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/logs"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/results"
)

// queryCmd lists matching records as rows.
type queryCmd struct {
	filterFlags
	recordFlags
	Columns cli.FieldList `name:"columns" short:"c" help:"Columns: hash, created, location, code_url, code_name, code_version, inputs, duration_s, param.<key>, output.<key> (nested outputs flattened with dots), params.* and outputs.* (every key). Default: hash,created,code_name,code_version,inputs,params.*,outputs.*"`
	Format  string        `name:"format" short:"f" default:"auto" enum:"auto,table,csv,jsonl" help:"Output format (${enum}); auto is an aligned table on a terminal, CSV otherwise."`
	Output  string        `name:"output" short:"o" type:"path" help:"Write to this file instead of stdout."`
}

// Run executes the query.
func (c *queryCmd) Run(ctx context.Context) error {
	records, assets, conn, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	flt, err := c.filter(ctx, assets)
	if err != nil {
		return err
	}
	recs, err := results.Query(ctx, records, flt, c.Latest)
	if err != nil {
		return err
	}
	table, err := results.NewTable(recs, c.Columns)
	if err != nil {
		return err
	}
	var w io.Writer = os.Stdout
	format := c.Format
	if c.Output != "" {
		f, err := os.Create(c.Output)
		if err != nil {
			return fault.Usagef("--output: %w", err)
		}
		defer f.Close()
		w = f
	}
	if format == "auto" {
		format = results.FormatCSV
		if c.Output == "" && logs.IsTerminal(os.Stdout) {
			format = results.FormatTable
		}
	}
	if err := table.Write(w, format); err != nil {
		return fmt.Errorf("writing results: %w", err)
	}
	if f, ok := w.(*os.File); ok && f != os.Stdout {
		return f.Close()
	}
	return nil
}
