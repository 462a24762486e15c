// Package dispatchcmd is the aind-dispatch command line: flags (with their Code Ocean
// snake_case aliases and environment variables) turned into dispatch.Options.
package dispatchcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gocarina/gocsv"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/cli"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/dispatch"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/docdb"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/logs"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/params"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// Description is the command's one-line help.
const Description = "Select data assets from DocDB and write one job file per unit of work."

// ExitCodes is what aind-dispatch's exit codes mean: it writes all the job folders or none.
var ExitCodes = fault.ExitCodes{
	OK:        "job folders written, or none to write (nothing matched, or every job is done): the last line says which",
	Failed:    "dispatch failed (DocDB refused the query, an asset record has no usable location); no job folder is left",
	Usage:     "usage or configuration error (bad flag, query, parameters or schema file; output folder not empty)",
	Transient: "DocDB or S3 unreachable after retries; no job folder is left (safe to retry)",
}

// Main runs aind-dispatch with args (without the program name) and returns the exit code.
func Main(args []string) int {
	cmd := &dispatchCmd{}
	return cli.Main("aind-dispatch", Description+"\n\n"+params.OverridesHelp+"\n\n"+ExitCodes.Help(), cmd, args, os.Stderr, cmd.Filter())
}

// dispatchCmd holds the flags. Every flag has its Code Ocean snake_case alias and an
// environment variable.
type dispatchCmd struct {
	cli.Globals

	DocDBQuery       string        `name:"docdb-query" aliases:"docdb_query" env:"DOCDB_QUERY" help:"Mongo filter selecting asset records: JSON text, or the path of a JSON file."`
	UseDataAssetCSV  bool          `name:"use-data-asset-csv" aliases:"use_data_asset_csv" env:"USE_DATA_ASSET_CSV" help:"Select by the asset_id column of the first *.csv in the input directory (Code Ocean data-asset ids) instead of a query."`
	FileExtension    string        `name:"file-extension" aliases:"file_extension" env:"FILE_EXTENSION" help:"Find files (or folders, e.g. zarr) whose name ends with this under each asset, e.g. .nwb."`
	SplitFiles       bool          `name:"split-files" aliases:"split_files" env:"SPLIT_FILES" default:"true" negatable:"" help:"One job per matched file (single-asset jobs only); false keeps a job's files together."`
	TasksPerJob      int           `name:"tasks-per-job" aliases:"tasks_per_job" env:"TASKS_PER_JOB" default:"1" help:"Job files per task folder."`
	MaxTasks         int           `name:"max-number-of-tasks-dispatched" aliases:"max_number_of_tasks_dispatched" env:"MAX_NUMBER_OF_TASKS_DISPATCHED" default:"1000" help:"Write at most this many job files."`
	GroupBy          cli.FieldList `name:"group-by" aliases:"group_by" env:"GROUP_BY" help:"Field path(s) to group records by (one job per group), e.g. subject.subject_id."`
	FilterLatest     string        `name:"filter-latest" aliases:"filter_latest" env:"FILTER_LATEST" help:"Field ordering records (e.g. created): keep only the greatest per filter_by combination."`
	FilterBy         cli.FieldList `name:"filter-by" aliases:"filter_by" env:"FILTER_BY" help:"Field path(s) that filter_latest keeps one record per."`
	UnwindListFields cli.FieldList `name:"unwind-list-fields" aliases:"unwind_list_fields" env:"UNWIND_LIST_FIELDS" help:"List-valued field path(s): one record per element, before grouping."`
	DropNullGroups   bool          `name:"drop-null-groups" aliases:"drop_null_groups" env:"DROP_NULL_GROUPS" default:"true" negatable:"" help:"Drop records whose group_by / filter_by fields are missing or null."`
	InputDirectory   string        `name:"input-directory" aliases:"input_directory" env:"INPUT_DIRECTORY" default:"/data" type:"path" help:"Folder with the query file, the CSV and analysis_parameters.json."`
	OutputDirectory  string        `name:"output-directory" aliases:"output_directory" env:"OUTPUT_DIRECTORY" default:"/results" type:"path" help:"Folder receiving the task folders 0, 1, ...; must be absent or empty."`
	AnalysisParams   string        `name:"analysis-parameters" aliases:"analysis_parameters" env:"ANALYSIS_PARAMETERS" type:"path" help:"analysis_parameters.json (default: found in the input directory)."`
	ListConcurrency  int           `name:"list-concurrency" aliases:"list_concurrency" env:"AIND_LIST_CONCURRENCY" default:"128" help:"Asset prefixes listed at once."`
	AssetDatabase    string        `name:"asset-database" aliases:"asset_database" env:"DOCDB_ASSET_DATABASE" default:"metadata_index" help:"Database of the data-asset records."`
	AssetCollection  string        `name:"asset-collection" aliases:"asset_collection" env:"DOCDB_ASSET_COLLECTION" default:"data_assets" help:"Collection of the data-asset records."`
	params.Flags
	identity.CodeFlags
	docdb.ConnectionFlags
}

// Run executes the dispatch.
func (c *dispatchCmd) Run(ctx context.Context) error {
	log := c.Logger()
	opts, err := c.options()
	if err != nil {
		return err
	}
	client, err := c.ConnectionFlags.Connect(ctx)
	if err != nil {
		return err
	}
	defer client.Close(context.WithoutCancel(ctx))
	deps := dispatch.Deps{
		Finder:   client.Collection(c.AssetDatabase, c.AssetCollection),
		Progress: dispatch.NoProgress{},
		Log:      log,
	}
	if logs.IsTerminal(os.Stderr) {
		deps.Progress = dispatch.NewLineProgress(os.Stderr)
	}
	if !opts.Code.IsZero() {
		if c.ResultsCollection == "" {
			log.Warn().Msg("no results collection (--results_collection / DOCDB_COLLECTION): not skipping jobs already done")
		} else {
			deps.Done = docdb.ScopeUpstream(client.Collection(c.ResultsDatabase, c.ResultsCollection), opts.Code.URL)
		}
	}
	if opts.FileExtension != "" {
		deps.Lister, err = storage.New(ctx, storage.Options{})
		if err != nil {
			return err
		}
	}
	log.Info().Str("docdb", c.ConnectionFlags.Describe()).Str("query", opts.QueryText).Strs("group_by", opts.GroupBy).
		Str("file_extension", opts.FileExtension).Int("parameter_sets", len(opts.Parameters.Distributed)).Msg("dispatching")
	stats, err := dispatch.Run(ctx, opts, deps)
	if err != nil {
		return err
	}
	summary := stats.Summary(opts)
	log.Info().Interface("stats", stats).Str("output", opts.OutputDir).Msg(summary)
	fmt.Println("aind-dispatch: " + summary)
	return nil
}

// options turns flags and input files into dispatch options; every error names its input.
func (c *dispatchCmd) options() (dispatch.Options, error) {
	o := dispatch.Options{
		GroupBy:          c.GroupBy,
		FilterLatest:     strings.TrimSpace(c.FilterLatest),
		FilterBy:         c.FilterBy,
		UnwindListFields: c.UnwindListFields,
		DropNullGroups:   c.DropNullGroups,
		FileExtension:    strings.TrimSpace(c.FileExtension),
		SplitFiles:       c.SplitFiles,
		TasksPerJob:      c.TasksPerJob,
		MaxTasks:         c.MaxTasks,
		OutputDir:        c.OutputDirectory,
		Concurrency:      c.ListConcurrency,
	}
	var err error
	if c.UseDataAssetCSV {
		o.Query, o.QueryText, err = csvQuery(c.InputDirectory)
	} else {
		o.Query, o.QueryText, err = parseQuery(c.DocDBQuery, c.InputDirectory)
	}
	if err != nil {
		return o, err
	}
	path := c.AnalysisParams
	if path == "" {
		path = params.Locate(c.InputDirectory)
	}
	if o.Parameters, err = params.Load(path); err != nil {
		return o, err
	}
	if o.ParameterSchema, err = c.Schema(); err != nil {
		return o, err
	}
	if o.Overrides, err = c.Flags.Overrides(); err != nil {
		return o, err
	}
	if info, _, known := c.CodeFlags.Resolve(); known {
		o.Code = info
	}
	return o, nil
}

// defaultQueryFile is the query file of the Code Ocean pipeline layout, used when no query
// is given.
const defaultQueryFile = "input_query.json"

// parseQuery reads the query from JSON text or a file holding it (Mongo extended JSON,
// so {"created": {"$gte": {"$date": "2025-01-01T00:00:00Z"}}} works). A relative file
// name not found in the working directory is looked up in the input directory; with no
// query at all, <input>/input_query.json is used if present.
func parseQuery(arg, inputDir string) (bson.D, string, error) {
	arg = strings.TrimSpace(arg)
	if arg == "" {
		if p := filepath.Join(inputDir, defaultQueryFile); fileExists(p) {
			arg = p
		} else {
			return nil, "", fault.Usagef("no selection: give --docdb_query (JSON text or file), put %s in the input directory %s, or use --use_data_asset_csv", defaultQueryFile, inputDir)
		}
	}
	source := "docdb_query"
	text := []byte(arg)
	if !strings.HasPrefix(arg, "{") {
		if !filepath.IsAbs(arg) && !fileExists(arg) && fileExists(filepath.Join(inputDir, arg)) {
			arg = filepath.Join(inputDir, arg)
		}
		data, err := os.ReadFile(arg)
		if err != nil {
			return nil, "", fault.Usagef("docdb_query %q is neither a JSON object nor a readable file: %w", arg, err)
		}
		source, text = "docdb_query file "+arg, data
	}
	if err := json.Unmarshal(text, new(json.RawMessage)); err != nil {
		return nil, "", fault.Usage(jsonSyntaxError(source, text, err))
	}
	var q bson.D
	if err := bson.UnmarshalExtJSON(text, false, &q); err != nil {
		return nil, "", fault.Usagef("%s: invalid JSON query: %w", source, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, text); err != nil {
		return nil, "", fault.Usagef("%s: invalid JSON query: %w", source, err)
	}
	return q, compact.String(), nil
}

// jsonSyntaxError says where in text (read from source) the JSON is broken: the byte
// offset encoding/json found (the position of the offending byte, counted from 1, or the
// length of a cut input), with the line and column when text spans lines. The bson
// parser's own message gives position 0 for a cut input, hence this check first.
func jsonSyntaxError(source string, text []byte, err error) error {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return fmt.Errorf("%s: invalid JSON query: %w", source, err)
	}
	where := fmt.Sprintf("at byte %d", se.Offset)
	if bytes.Contains(text, []byte("\n")) {
		at := max(int(se.Offset)-1, 0) // the offending byte's index
		before := text[:min(at, len(text))]
		line := bytes.Count(before, []byte("\n")) + 1
		column := len([]rune(string(before[bytes.LastIndexByte(before, '\n')+1:]))) + 1
		where += fmt.Sprintf(" (line %d, column %d)", line, column)
	}
	return fmt.Errorf("%s: invalid JSON query %s: %w", source, where, se)
}

// assetRow is one row of the data-asset CSV.
type assetRow struct {
	AssetID string `csv:"asset_id"`
}

// csvQuery reads the first *.csv in dir (by name) and selects its asset_id values.
func csvQuery(dir string) (bson.D, string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*.csv"))
	if err != nil || len(matches) == 0 {
		return nil, "", fault.Usagef("use_data_asset_csv: no *.csv file in input directory %s", dir)
	}
	sort.Strings(matches)
	path := matches[0]
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fault.Usagef("use_data_asset_csv: %w", err)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // Excel's byte-order mark
	header, _, _ := bytes.Cut(data, []byte("\n"))
	if !hasColumn(string(header), "asset_id") {
		return nil, "", fault.Usagef("CSV %s: no asset_id column (header: %q)", path, strings.TrimSpace(string(header)))
	}
	var rows []assetRow
	if err := gocsv.UnmarshalBytes(data, &rows); err != nil {
		return nil, "", fault.Usagef("CSV %s: %w", path, err)
	}
	var ids []string
	for _, r := range rows {
		if id := strings.TrimSpace(r.AssetID); id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, "", fault.Usagef("CSV %s: column asset_id has no ids", path)
	}
	q := bson.D{{Key: "external_links.Code Ocean.0", Value: bson.D{{Key: "$in", Value: ids}}}}
	text, err := json.Marshal(map[string]any{"external_links.Code Ocean.0": map[string]any{"$in": ids}})
	if err != nil {
		return nil, "", errors.New("encoding CSV query")
	}
	return q, string(text), nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func hasColumn(header, name string) bool {
	for _, col := range strings.Split(header, ",") {
		if strings.Trim(strings.TrimSpace(col), `"`) == name {
			return true
		}
	}
	return false
}
