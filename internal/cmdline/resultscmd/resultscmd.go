// Package resultscmd is the aind-results command line: query result records into a table,
// download and list result folders, and report on one pipeline run's outputs. Each
// subcommand's flags become options of pkg/results.
package resultscmd

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/cli"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/docdb"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/results"
)

// Description is the command's one-line help.
const Description = "Find analysis results, pull their output values into a table, download them, and report on a run."

// ExitCodes is what aind-results' exit codes mean, for each of its commands.
var ExitCodes = fault.ExitCodes{
	OK:        "done: the table, the files or the report are written",
	Failed:    "a result could not be read or verified (no manifest, a file that differs from it)",
	Usage:     "usage error (bad flag or filter, no result matches, not a run folder)",
	Transient: "DocDB or S3 unreachable after retries (safe to retry)",
}

// Main runs aind-results with args (without the program name) and returns the exit code.
func Main(args []string) int {
	cmd := &resultsCmd{}
	cmd.Get.globals, cmd.Report.globals = &cmd.Globals, &cmd.Globals
	return cli.Main("aind-results", Description+"\n\n"+ExitCodes.Help(), cmd, args, os.Stderr)
}

// resultsCmd is the command tree.
type resultsCmd struct {
	cli.Globals
	Query  queryCmd  `cmd:"" help:"List result records matching filters, as a table, CSV or JSON lines."`
	Get    getCmd    `cmd:"" help:"Download result folders (by hash, or those a query matches), verified against their manifests."`
	Ls     lsCmd     `cmd:"" help:"List the files of a result and their sizes."`
	Report reportCmd `cmd:"" help:"Summarise one run's output folder (local or s3://) as Markdown and a self-contained HTML page."`
}

// recordFlags reach the result records: DocDB and the asset collection (to turn asset
// ids into locations).
type recordFlags struct {
	docdb.ConnectionFlags
	AssetDatabase   string `name:"asset-database" aliases:"asset_database" env:"DOCDB_ASSET_DATABASE" default:"metadata_index" help:"Database of the data-asset records (to resolve --input ids)."`
	AssetCollection string `name:"asset-collection" aliases:"asset_collection" env:"DOCDB_ASSET_COLLECTION" default:"data_assets" help:"Collection of the data-asset records."`
}

// closer is what the connection must offer besides collections.
type closer interface{ Close(context.Context) error }

// open connects to DocDB and returns the results and asset collections.
func (f recordFlags) open(ctx context.Context) (records, assets results.RecordFinder, c closer, err error) {
	if f.ResultsCollection == "" {
		return nil, nil, nil, fault.Usagef("no results collection: set --results_collection or DOCDB_COLLECTION (and --results_database / DOCDB_DATABASE)")
	}
	if !f.Configured() {
		return nil, nil, nil, fault.Usagef("no DocDB: set DOCDB_HOST (the DocDB HTTP gateway) or DOCDB_URI (MongoDB/DocumentDB), or --docdb_host / --docdb_uri; for the demo's records, start its devstack and source .demo/devstack.env (README, \"To query the records\")")
	}
	client, err := f.Connect(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	return client.Collection(f.ResultsDatabase, f.ResultsCollection), client.Collection(f.AssetDatabase, f.AssetCollection), client, nil
}

// filterFlags are the record filters that query and get share.
type filterFlags struct {
	Hash         cli.FieldList `name:"hash" help:"Result hash(es) (record _id)."`
	AnalysisName string        `name:"analysis-name" aliases:"analysis_name" help:"The analysis_name parameter."`
	AnalysisTag  string        `name:"analysis-tag" aliases:"analysis_tag" help:"The analysis_tag parameter."`
	Param        []string      `name:"param" short:"p" help:"Parameter key=value (repeatable). Values are typed as JSON: 10 and 0.5 are numbers, true a boolean, '\"10\"' a string; anything else is a string."`
	CodeURL      string        `name:"code-url" aliases:"code_url" help:"Code URL."`
	CodeName     string        `name:"code-name" aliases:"code_name" help:"Code name."`
	CodeVersion  cli.FieldList `name:"code-version" aliases:"code_version" help:"Code version(s): any of them."`
	Input        cli.FieldList `name:"input" help:"Input asset(s): an s3:// location, or a data-asset record id (looked up in the asset collection). Any of them."`
	Since        string        `name:"since" help:"Created at or after (RFC 3339, or a date: 2026-01-02)."`
	Until        string        `name:"until" help:"Created at or before (RFC 3339, or a date, meaning its end)."`
	Latest       bool          `name:"latest" help:"Keep only the newest record per identical code, inputs and parameters (any code version)."`
}

// assetLocations turns ids into locations via the asset collection; locations pass through.
func assetLocations(ctx context.Context, assets results.RecordFinder, inputs []string) ([]string, error) {
	var out, ids []string
	for _, in := range inputs {
		if strings.Contains(in, "://") {
			out = append(out, strings.TrimRight(in, "/"))
		} else {
			ids = append(ids, in)
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	found := map[string]bool{}
	filter := bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}
	err := assets.Find(ctx, filter, docdb.FindOptions{Projection: bson.D{{Key: "location", Value: 1}}}, func(doc bson.Raw) error {
		id, _ := doc.Lookup("_id").StringValueOK()
		loc, ok := doc.Lookup("location").StringValueOK()
		if ok && loc != "" {
			found[id] = true
			out = append(out, loc)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("resolving input asset ids: %w", err)
	}
	for _, id := range ids {
		if !found[id] {
			return nil, fault.Usagef("--input %q: no data-asset record with this id (or it has no location)", id)
		}
	}
	return out, nil
}

// filter builds the results filter.
func (f filterFlags) filter(ctx context.Context, assets results.RecordFinder) (results.Filter, error) {
	flt := results.Filter{Hashes: f.Hash, AnalysisName: f.AnalysisName, AnalysisTag: f.AnalysisTag,
		CodeURL: f.CodeURL, CodeName: f.CodeName, CodeVersions: f.CodeVersion}
	for _, p := range f.Param {
		k, v, err := results.ParseParam(p)
		if err != nil {
			return flt, err
		}
		if flt.Params == nil {
			flt.Params = map[string]any{}
		}
		flt.Params[k] = v
	}
	var err error
	if f.Since != "" {
		if flt.CreatedAfter, err = results.ParseTime(f.Since); err != nil {
			return flt, err
		}
	}
	if f.Until != "" {
		if flt.CreatedBefore, err = results.ParseTime(f.Until); err != nil {
			return flt, err
		}
		if len(f.Until) == len("2006-01-02") {
			flt.CreatedBefore = flt.CreatedBefore.Add(24*time.Hour - time.Nanosecond)
		}
	}
	if len(f.Input) > 0 {
		if flt.Inputs, err = assetLocations(ctx, assets, f.Input); err != nil {
			return flt, err
		}
	}
	return flt, nil
}

// isZero reports whether no filter is set.
func (f filterFlags) isZero() bool {
	return len(f.Hash) == 0 && f.AnalysisName == "" && f.AnalysisTag == "" && len(f.Param) == 0 && f.CodeURL == "" &&
		f.CodeName == "" && len(f.CodeVersion) == 0 && len(f.Input) == 0 && f.Since == "" && f.Until == ""
}
