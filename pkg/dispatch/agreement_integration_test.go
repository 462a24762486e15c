package dispatch_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/dispatch"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/params"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/wrapper"
)

// The upstream dispatcher and wrapper once hashed the same job differently, so finished
// jobs were dispatched again. Here the real wrapper publishes the dispatched jobs, and the
// next dispatch must find every one of them done, with schema defaults in play.
func TestDispatcherRecognisesWhatTheWrapperPublished(t *testing.T) {
	f := newFixture(t)
	schema, err := params.CompileSchema("schema.json", []byte(`{"type": "object", "properties": {"window": {"type": "integer", "default": 10}}}`))
	if err != nil {
		t.Fatal(err)
	}
	code := identity.CodeInfo{URL: "https://example.org/a", Name: "a", Version: "1", RunScript: "code/run"}
	file := params.File{Fixed: map[string]any{"analysis_name": "agree"}, Distributed: []map[string]any{{"cutoff": 1}, {"cutoff": 2}}}
	dispatchOnce := func(withSchema bool) (dispatch.Stats, string) {
		o := f.options(t)
		o.GroupBy, o.Parameters, o.Code = []string{"subject.subject_id"}, file, code
		if withSchema {
			o.ParameterSchema = schema
		}
		st, err := f.run(t, o)
		if err != nil {
			t.Fatal(err)
		}
		return st, o.OutputDir
	}
	st, out := dispatchOnce(true)
	if st.Written != 4 {
		t.Fatalf("first dispatch: %+v", st)
	}
	store, err := storage.New(context.Background(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	folders, _ := filepath.Glob(filepath.Join(out, "*"))
	for _, folder := range folders {
		cfg := wrapper.Config{
			JobDir: folder, OutputDir: t.TempDir(), ScratchDir: t.TempDir(), Parameters: file, ParameterSchema: schema,
			Code: code, Bucket: storage.MustParse("s3://" + f.bucket + "/results"), Lease: time.Minute,
		}
		claims := f.client.Collection(f.db, f.resultsC+"_claims")
		sum, err := wrapper.Run(context.Background(), cfg, wrapper.Deps{Records: f.results, Claims: claims, Store: store, Log: zerolog.Nop()},
			wrapper.AnalysisFunc(func(context.Context, wrapper.Input) (map[string]any, error) { return nil, nil }))
		if err != nil || sum.Count(wrapper.StatusDone) != 1 {
			t.Fatalf("wrapper on %s: %v %+v", folder, err, sum.Results)
		}
	}
	if st, _ := dispatchOnce(true); st.SkippedDone != 4 || st.Written != 0 {
		t.Fatalf("second dispatch: %+v: every published job must be recognised as done", st)
	}
	// Without the schema the dispatcher cannot know the wrapper's defaults: nothing matches.
	if st, _ := dispatchOnce(false); st.SkippedDone != 0 {
		t.Fatalf("dispatch without the schema skipped %d jobs: the test does not exercise defaults", st.SkippedDone)
	}
}
