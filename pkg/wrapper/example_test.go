package wrapper_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/wrapper"
)

// countAssets is a whole Go analysis: it writes a report and returns one output value.
var countAssets = wrapper.GoAnalysis{
	Name:            "count-assets",
	ParameterSchema: []byte(`{"type": "object", "properties": {"label": {"type": "string"}}}`),
	Run: func(ctx context.Context, in wrapper.Input) (map[string]any, error) {
		report := []byte(in.Parameters["label"].(string) + "\n")
		if err := os.WriteFile(filepath.Join(in.OutputDir, "report.txt"), report, 0o644); err != nil {
			return nil, err
		}
		return map[string]any{"n_assets": len(in.Job.S3Location)}, nil
	},
}

// A Go analysis' main is one call, wrapper.Main(countAssets): the wrapper reads the jobs,
// merges and validates parameters, skips finished work, publishes the output folder and
// records provenance. Here MainArgs (Main without the exit) runs it on one job, in a dry
// run (the default: nothing is uploaded or recorded).
func ExampleMain() {
	dir, folders := exampleFolders()
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "results")

	code := wrapper.MainArgs(countAssets, folders)
	fmt.Println("exit code:", code)
	reports, _ := filepath.Glob(filepath.Join(out, "*", "report.txt"))
	for _, r := range reports {
		b, _ := os.ReadFile(r)
		fmt.Printf("<hash>/report.txt: %s", b)
	}
	// Output:
	// aind-wrapper: 1 jobs: 0 ran, 1 dry-run, 0 skipped as done, 0 failed, 0 deferred (claimed elsewhere)
	// exit code: 0
	// <hash>/report.txt: two sessions
}

// workerFlags are an analysis' own flags. They say how it runs, not what it computes: what
// changes the results is a parameter, so that it enters the job's identity.
type workerFlags struct {
	Workers int `name:"workers" env:"COUNT_ASSETS_WORKERS" default:"1" help:"Assets read at once."`
}

// An analysis with flags of its own gives them as GoAnalysis.Flags: they are parsed beside
// the wrapper's (and shown in --help), so --workers is a flag, and a misspelled --worker is
// a usage error (exit 2), never an analysis parameter named "worker".
func ExampleGoAnalysis_flags() {
	flags := &workerFlags{}
	analysis := wrapper.GoAnalysis{
		Name:  "count-assets",
		Flags: flags,
		Run: func(ctx context.Context, in wrapper.Input) (map[string]any, error) {
			fmt.Println("workers:", flags.Workers)
			return map[string]any{"n_assets": len(in.Job.S3Location)}, nil
		},
	}
	dir, folders := exampleFolders()
	defer os.RemoveAll(dir)

	fmt.Println("exit code:", wrapper.MainArgs(analysis, append(folders, "--workers", "4")))
	fmt.Println("exit code:", wrapper.MainArgs(analysis, append(folders, "--worker", "4")))
	// Output:
	// workers: 4
	// aind-wrapper: 1 jobs: 0 ran, 1 dry-run, 0 skipped as done, 0 failed, 0 deferred (claimed elsewhere)
	// exit code: 0
	// exit code: 2
}

// exampleFolders makes a temporary input folder holding one job of two assets and
// analysis_parameters.json, and returns it with the wrapper's folder flags for it (quiet logs).
func exampleFolders() (string, []string) {
	dir, err := os.MkdirTemp("", "example-main-")
	must(err)
	in := filepath.Join(dir, "data")
	must(os.MkdirAll(filepath.Join(in, "job_dict"), 0o755))
	must(os.WriteFile(filepath.Join(in, "job_dict", "job_1.json"), []byte(`{
	  "s3_location": ["s3://bucket/asset_1", "s3://bucket/asset_2"],
	  "asset_name": ["asset_1", "asset_2"],
	  "docdb_record_id": ["id_1", "id_2"]
	}`), 0o644))
	must(os.WriteFile(filepath.Join(in, "analysis_parameters.json"), []byte(`{"fixed_parameters": {"label": "two sessions"}}`), 0o644))
	return dir, []string{
		"--input-directory", in, "--output-directory", filepath.Join(dir, "results"),
		"--scratch-directory", filepath.Join(dir, "scratch"), "--log-level", "error",
	}
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
