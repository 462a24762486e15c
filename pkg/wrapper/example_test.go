package wrapper_test

import (
	"context"
	"os"
	"path/filepath"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/wrapper"
)

// A whole Go analysis: the wrapper reads the jobs, merges and validates parameters, skips
// finished work, publishes the output folder and records provenance.
func ExampleMain() {
	wrapper.Main(wrapper.GoAnalysis{
		Name:            "count-assets",
		ParameterSchema: []byte(`{"type": "object", "properties": {"label": {"type": "string"}}}`),
		Run: func(ctx context.Context, in wrapper.Input) (map[string]any, error) {
			report := []byte(in.Parameters["label"].(string) + "\n")
			if err := os.WriteFile(filepath.Join(in.OutputDir, "report.txt"), report, 0o644); err != nil {
				return nil, err
			}
			return map[string]any{"n_assets": len(in.Job.S3Location)}, nil
		},
	})
}
