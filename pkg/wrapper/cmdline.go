package wrapper

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"github.com/rs/zerolog"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/cli"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/docdb"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/params"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// Flags are the wrapper's settings, the same for `aind-wrapper run -- <command>` and for a
// Go analysis built with Main. Every flag has its Code Ocean snake_case alias and an
// environment variable. Analysis parameters are given as the dispatcher takes them
// (params.Flags, params.OverridesHelp): --param k=v, --parameter_overrides, or --k=v for
// a property of the parameter schema; any other --name is a usage error.
type Flags struct {
	identity.CodeFlags
	docdb.ConnectionFlags
	params.Flags

	InputDirectory     string        `name:"input-directory" aliases:"input_directory" env:"INPUT_DIRECTORY" default:"/data" type:"path" help:"Folder holding job_dict/ and analysis_parameters.json."`
	JobDict            string        `name:"job-dict" aliases:"job_dict" env:"JOB_DICT" type:"path" help:"Folder of job files (default <input-directory>/job_dict)."`
	OutputDirectory    string        `name:"output-directory" aliases:"output_directory" env:"OUTPUT_DIRECTORY" default:"/results" type:"path" help:"Folder receiving one result folder per job (named by its hash) and skip_/failed_ markers."`
	ScratchDirectory   string        `name:"scratch-directory" aliases:"scratch_directory" env:"SCRATCH_DIRECTORY" type:"path" help:"Working folder, not published (default /scratch if present, else a temp folder)."`
	AnalysisParameters string        `name:"analysis-parameters" aliases:"analysis_parameters" env:"ANALYSIS_PARAMETERS" type:"path" help:"analysis_parameters.json (default: found in the input directory)."`
	OutputSchema       string        `name:"output-schema" aliases:"output_schema" env:"OUTPUT_SCHEMA" type:"path" help:"JSON Schema of the analysis outputs (outputs.json)."`
	DryRun             bool          `name:"dry-run" aliases:"dry_run" env:"DRY_RUN" default:"true" negatable:"" help:"Run and write metadata.nd.json locally, but upload and record nothing (default, as upstream)."`
	AnalysisBucket     string        `name:"analysis-bucket" aliases:"analysis_bucket" env:"ANALYSIS_BUCKET" help:"Where results go: s3://bucket[/prefix] (or a local folder); each job under <hash>/."`
	Experimenter       []string      `name:"experimenter" env:"CODEOCEAN_EMAIL" help:"Who ran the analysis (e-mail)."`
	PipelineName       string        `name:"pipeline-name" aliases:"pipeline_name" env:"AIND_PIPELINE_NAME" help:"Name of the pipeline running the wrapper."`
	PipelineURL        string        `name:"pipeline-url" aliases:"pipeline_url" env:"AIND_PIPELINE_URL" help:"URL of the pipeline's code."`
	PipelineVersion    string        `name:"pipeline-version" aliases:"pipeline_version" env:"AIND_PIPELINE_VERSION" help:"Version of the pipeline."`
	PipelineID         string        `name:"pipeline-id" aliases:"pipeline_id" env:"CO_PIPELINE_ID" help:"Code Ocean pipeline id."`
	ComputationID      string        `name:"computation-id" aliases:"computation_id" env:"CO_COMPUTATION_ID" help:"Code Ocean computation id (noted in the record)."`
	Timeout            time.Duration `name:"timeout" env:"AIND_ANALYSIS_TIMEOUT" help:"Stop a job's analysis after this long (0: no limit)."`
	ClaimLease         time.Duration `name:"claim-lease" aliases:"claim_lease" env:"AIND_CLAIM_LEASE" default:"2m" help:"Lease of a job's claim, renewed while it runs; a crashed wrapper's job is taken over after it."`
	UploadConcurrency  int           `name:"upload-concurrency" aliases:"upload_concurrency" env:"AIND_UPLOAD_CONCURRENCY" default:"16" help:"Files uploaded at once."`
	ConcurrentJobs     int           `name:"concurrent-jobs" aliases:"concurrent_jobs" env:"AIND_CONCURRENT_JOBS" default:"4" help:"Jobs of the task in progress at once: their claims, uploads and records overlap; their analyses run one at a time."`

	// embeddedOutputSchema is the output schema when --output-schema is not set (a Go
	// analysis embeds its own, as it does its parameter schema: params.SetDefaultSchema).
	embeddedOutputSchema []byte
}

// Execute runs analysis a under these flags, logging to log, and returns the run's error
// for the exit code.
func (f *Flags) Execute(ctx context.Context, log zerolog.Logger, a Analysis) error {
	cfg, err := f.config()
	if err != nil {
		return err
	}
	deps := Deps{Log: log}
	store, err := storage.New(ctx, storage.Options{})
	if err != nil {
		return err
	}
	deps.Store = store
	if f.ConnectionFlags.Configured() {
		if f.ResultsCollection == "" {
			return fault.Usagef("DocDB is set but not the results collection (--results_collection / DOCDB_COLLECTION)")
		}
		client, err := f.ConnectionFlags.Connect(ctx)
		if err != nil {
			return err
		}
		defer client.Close(context.WithoutCancel(ctx))
		// Two handles on the results: one that asks for a record by _id only (the fence,
		// vouched jobs), one that also knows the Python wrapper's records (read once, for
		// jobs the dispatcher did not look up).
		deps.Records = docdb.OwnRecords(client.Collection(f.ResultsDatabase, f.ResultsCollection))
		deps.Migrated = docdb.ScopeUpstream(client.Collection(f.ResultsDatabase, f.ResultsCollection), cfg.Code.URL)
		deps.Claims = client.Collection(f.ResultsDatabase, f.ClaimsCollection())
	}
	log.Info().Str("job_dir", cfg.JobDir).Bool("dry_run", cfg.DryRun).Str("bucket", cfg.Bucket.String()).
		Str("docdb", f.ConnectionFlags.Describe()).Str("code_version", cfg.Code.Version).Msg("wrapper starting")
	sum, err := Run(ctx, cfg, deps, a)
	if err != nil {
		return err
	}
	line := sum.Line()
	log.Info().Msg(line)
	fmt.Println("aind-wrapper: " + line)
	return sum.Err()
}

// config turns flags and files into a Config; every error names its input. The code
// identity and the parameter overrides come from the flags the dispatcher shares
// (identity.CodeFlags, params.Flags), so both compute the same job identities.
func (f *Flags) config() (Config, error) {
	info, note, _ := f.CodeFlags.Resolve()
	cfg := Config{
		JobDir:            f.JobDict,
		OutputDir:         f.OutputDirectory,
		ScratchDir:        f.ScratchDirectory,
		Code:              info,
		CodeNote:          note,
		DryRun:            f.DryRun,
		Experimenters:     f.Experimenter,
		Timeout:           f.Timeout,
		Lease:             f.ClaimLease,
		UploadConcurrency: f.UploadConcurrency,
		ConcurrentJobs:    f.ConcurrentJobs,
		PipelineName:      f.PipelineName,
	}
	if cfg.JobDir == "" {
		cfg.JobDir = filepath.Join(f.InputDirectory, "job_dict")
	}
	if cfg.ScratchDir == "" {
		if st, err := os.Stat("/scratch"); err == nil && st.IsDir() {
			cfg.ScratchDir = "/scratch"
		}
	}
	if f.ComputationID != "" {
		cfg.Notes = "Code Ocean computation: " + f.ComputationID
	}
	if cfg.PipelineName == "" && f.PipelineID != "" {
		cfg.PipelineName = "Code Ocean pipeline " + f.PipelineID
	}
	if cfg.PipelineName != "" || f.PipelineURL != "" {
		cfg.Pipeline = &identity.Code{ObjectType: identity.ObjectTypeCode, CodeInfo: identity.CodeInfo{URL: f.PipelineURL, Name: cfg.PipelineName, Version: f.PipelineVersion}}
	}
	if f.AnalysisBucket != "" {
		b := f.AnalysisBucket
		if !strings.Contains(b, "://") && !strings.HasPrefix(b, "/") && !strings.HasPrefix(b, ".") {
			b = "s3://" + b // ANALYSIS_BUCKET is often a bare bucket name
		}
		u, err := storage.Parse(b)
		if err != nil {
			return cfg, fault.Usagef("analysis bucket: %w", err)
		}
		cfg.Bucket = u
	}
	path := f.AnalysisParameters
	if path == "" {
		path = params.Locate(f.InputDirectory)
	}
	var err error
	if cfg.Parameters, err = params.Load(path); err != nil {
		return cfg, err
	}
	if cfg.ParameterSchema, err = f.Schema(); err != nil {
		return cfg, err
	}
	switch {
	case f.OutputSchema != "":
		cfg.OutputSchema, err = params.LoadSchema(f.OutputSchema)
	case len(f.embeddedOutputSchema) > 0:
		cfg.OutputSchema, err = params.CompileSchema("embedded output schema", f.embeddedOutputSchema)
	}
	if err != nil {
		return cfg, err
	}
	if cfg.Overrides, err = f.Overrides(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// GoAnalysis describes an analysis written in Go, for Main.
type GoAnalysis struct {
	// Name is the binary's name. It is not the code's name, which is --code_name or
	// derived from --code_url as the dispatcher does (identity.CodeFlags.Resolve).
	Name string
	// Description is shown in --help.
	Description string
	// ParameterSchema and OutputSchema are JSON Schema documents (nil: no validation);
	// --parameter-schema / --output-schema override them.
	ParameterSchema, OutputSchema []byte
	// Run analyses one job.
	Run AnalysisFunc
	// Flags, if set, is a pointer to a struct of the analysis' own flags (kong tags, like
	// the fields of Flags), parsed beside the wrapper's flags, so that --name of one of them
	// is that flag, never an analysis parameter; Run reads them from the struct. Under
	// `aind-wrapper run -- <analysis> [flags]` they are the only flags it takes. A flag says
	// how the analysis runs (workers, a cache folder), not what it computes: what changes
	// the results must be a parameter, which enters the job's identity; a flag does not.
	Flags any
}

type goCmd struct {
	cli.Globals
	Flags
	analysis GoAnalysis
}

// KongOptions adds the analysis' own flags to the command line (cli.Extended).
func (c *goCmd) KongOptions() []kong.Option { return c.analysis.ownFlags() }

// ownFlags embeds the analysis' own flags, if any, in a command line.
func (a GoAnalysis) ownFlags() []kong.Option {
	if a.Flags == nil {
		return nil
	}
	return []kong.Option{kong.Embed(a.Flags)}
}

func (c *goCmd) Run(ctx context.Context) error {
	return c.Execute(ctx, c.Logger(), c.analysis.Run)
}

// ExitCodes is what the exit codes of aind-wrapper, and of a Go analysis built with Main,
// mean: one failing job does not stop the others, and the worst outcome decides.
var ExitCodes = fault.ExitCodes{
	OK:        "every job done, dry-run, or skipped (a result with its identity is recorded)",
	Failed:    "at least one job failed (the others still ran; see its failed_ marker)",
	Usage:     "usage or configuration error (bad flag, job folder, parameters or schema)",
	Transient: "a job could not finish now: S3 or DocDB unreachable after retries, or the job is claimed by another wrapper (safe to retry)",
}

// Main is the whole main function of a Go analysis:
//
//	func main() { wrapper.Main(wrapper.GoAnalysis{Name: "my-analysis", Run: analyse}) }
//
// It parses the wrapper's flags, runs the analysis on every job and exits with the
// documented exit code.
func Main(a GoAnalysis) {
	os.Exit(MainArgs(a, os.Args[1:]))
}

// MainArgs is Main with explicit arguments; it returns the exit code. Run as the analysis
// command of `aind-wrapper run` (AIND_JOB_FILE and AIND_OUTPUT_DIR set), it analyses that
// one job and leaves the rest to the enclosing wrapper (see runAsCommand).
func MainArgs(a GoAnalysis, args []string) int {
	if underWrapper() {
		return runAsCommand(a, args, os.Stderr)
	}
	desc := a.Description
	if desc == "" {
		desc = a.Name + ": an analysis run once per job by the aind wrapper."
	}
	cmd := &goCmd{analysis: a}
	cmd.SetDefaultSchema(a.ParameterSchema)
	cmd.embeddedOutputSchema = a.OutputSchema
	return cli.Main(a.Name, desc+"\n\n"+params.OverridesHelp+"\n\n"+ExitCodes.Help(), cmd, args, os.Stderr, cmd.Filter())
}
