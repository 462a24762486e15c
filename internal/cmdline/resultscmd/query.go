package resultscmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/term"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/cli"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/logs"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/results"
)

// terminalWidth is stdout's terminal width (COLUMNS, else the terminal's, else 120).
func terminalWidth() int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil && w > 0 {
		return w
	}
	return 120
}

// queryCmd lists matching records as rows.
type queryCmd struct {
	filterFlags
	recordFlags
	Columns cli.FieldList `name:"columns" short:"c" help:"Columns: hash, created, location, code_url, code_name, code_version, inputs, duration_s, param.<key>, output.<key> (nested outputs flattened with dots), params.* and outputs.* (every key). Default: hash,created,code_name,code_version,inputs,params.*,outputs.*; on a terminal, only the short ones that fit its width, those whose values differ between rows first."`
	Format  string        `name:"format" short:"f" default:"auto" enum:"auto,table,csv,jsonl" help:"Output format (${enum}); auto is an aligned table on a terminal (short columns that fit), CSV otherwise (every column)."`
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
	terminal := c.Output == "" && logs.IsTerminal(os.Stdout)
	format := c.Format
	if format == "auto" {
		format = results.FormatCSV
		if terminal {
			format = results.FormatTable
		}
	}
	fit := terminal && format == results.FormatTable && len(c.Columns) == 0
	columns := []string(c.Columns)
	if fit {
		columns = results.TerminalColumns
	}
	table, err := results.NewTable(recs, columns)
	if err != nil {
		return err
	}
	var w io.Writer = os.Stdout
	if c.Output != "" {
		f, err := os.Create(c.Output)
		if err != nil {
			return fault.Usagef("--output: %w", err)
		}
		defer f.Close()
		w = f
	}
	hidden := 0
	if fit {
		table, hidden = table.Fit(terminalWidth())
	}
	if err := table.Write(w, format); err != nil {
		return fmt.Errorf("writing results: %w", err)
	}
	if hidden > 0 {
		fmt.Fprintf(os.Stderr, "(%d rows; %d more columns not shown: lists, or wider than the terminal. "+
			"Choose columns with -c hash,output.<key>,...; every column: -f csv, -f jsonl or -o FILE.csv)\n", len(table.Rows), hidden)
	}
	if f, ok := w.(*os.File); ok && f != os.Stdout {
		return f.Close()
	}
	return nil
}
