package wrapper_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/docdb"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/result"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/wrapper"
)

// TestSameWorkForAnotherCollectionIsNotRedoneNorDeleted: the bucket is shared by every
// results collection, records are per collection. A job published for collection
// "results" and then run for collection "other" (the same code, parameters and inputs, so
// the same identity and prefix) must neither delete that complete result as "leftovers"
// (it did: the demo's results were wiped by a run for another collection) nor run the
// analysis again: the result is recorded in "other" too, and its objects are untouched.
func TestSameWorkForAnotherCollectionIsNotRedoneNorDeleted(t *testing.T) {
	f := newFixture(t)
	f.addJob(t, nil)
	var runs atomic.Int64
	first, err := wrapper.Run(context.Background(), f.config(t), f.deps(nil), countingAnalysis(&runs))
	if err != nil || first.Count(wrapper.StatusDone) != 1 {
		t.Fatalf("first run: %+v, %v", first.Results, err)
	}
	hash := first.Results[0].Hash
	prefix := "s3://" + f.bucket + "/results/" + hash
	before := f.objects(t, prefix)
	original := f.record(t, hash)

	c := f.env.OpenDocDB(t)
	var otherRecords docdb.Store = c.Collection(f.db, "other")
	other := f.deps(nil)
	other.Records, other.Claims = otherRecords, c.Collection(f.db, "other_claims")
	second, err := wrapper.Run(context.Background(), f.config(t), other, countingAnalysis(&runs))
	if err != nil || second.Count(wrapper.StatusSkipped) != 1 || runs.Load() != 1 {
		t.Fatalf("second run for another collection: %+v, %v, analysis ran %d times (want 1)", second.Results, err, runs.Load())
	}
	if after := f.objects(t, prefix); !reflect.DeepEqual(after, before) {
		t.Fatalf("objects under %s changed: before %v, after %v", prefix, before, after)
	}
	g := *f
	g.records = otherRecords
	if adopted := g.record(t, hash); !reflect.DeepEqual(adopted, original) {
		t.Fatalf("record in the other collection:\n%v\nwant the published result's:\n%v", adopted, original)
	}
}

// contents returns every object under prefix with its content.
func (f *fixture) contents(t *testing.T, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := f.store.List(context.Background(), storage.MustParse(prefix), func(o storage.Object) error {
		rc, err := f.store.Open(context.Background(), o.URL)
		if err != nil {
			return err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		out[o.Rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestForgedResultIsNotAdopted: a result under a job's prefix that is not the job's own
// is never recorded for another collection, and the analysis is not run over it either
// (its prefix is not this wrapper's to clear): the job fails permanently, the wrapper
// exits 1 (wrapper.MainArgs, as the binary), its failed_ marker names the prefix and the
// object or field, no record is written and no object touched. The forgeries are the
// issue's: an output overwritten in place with other bytes of the same size, and another
// job's complete result copied under the job's hash, its manifest's hash rewritten.
func TestForgedResultIsNotAdopted(t *testing.T) {
	tests := []struct {
		name string
		// forge changes what is under results/<hash>/ (other: the second job's hash).
		forge   func(t *testing.T, f *fixture, hash, other string)
		wantErr func(f *fixture, hash, other string) string
	}{
		{"output overwritten in place, same size", func(t *testing.T, f *fixture, hash, _ string) {
			key := "results/" + hash + "/result.txt"
			old := f.contents(t, "s3://"+f.bucket+"/results/"+hash)["result.txt"]
			forged := strings.Replace(old, "0.4", "0.9", 1)
			if forged == old {
				t.Fatalf("result.txt %q has no 0.4 to change", old)
			}
			f.env.PutObjects(t, f.bucket, map[string]string{key: forged})
		}, func(f *fixture, hash, _ string) string {
			return "s3://" + f.bucket + "/results/" + hash + "/result.txt: sha256 "
		}},
		{"another job's result copied under the hash, manifest rewritten", func(t *testing.T, f *fixture, hash, other string) {
			objects := f.contents(t, "s3://"+f.bucket+"/results/"+other)
			var m result.Manifest
			if err := json.Unmarshal([]byte(objects[result.ManifestFile]), &m); err != nil {
				t.Fatal(err)
			}
			m.Hash = hash
			b, _ := json.Marshal(m)
			objects[result.ManifestFile] = string(b)
			copied := map[string]string{}
			for rel, content := range objects {
				copied["results/"+hash+"/"+rel] = content
			}
			f.env.PutObjects(t, f.bucket, copied)
		}, func(f *fixture, hash, other string) string {
			return "s3://" + f.bucket + "/results/" + hash + "/" + result.MetadataFile + " describes job " + other + ", not " + hash
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.addJob(t, map[string]any{"cutoff": 0.4})
			f.addJob(t, map[string]any{"cutoff": 0.6})
			params := `{"fixed_parameters": {"analysis_name": "forged"}}`
			if err := os.WriteFile(filepath.Join(f.in, "analysis_parameters.json"), []byte(params), 0o644); err != nil {
				t.Fatal(err)
			}
			var runs atomic.Int64
			run := func(collection, out string) int {
				return wrapper.MainArgs(wrapper.GoAnalysis{
					Name: "go-analysis", ParameterSchema: []byte(paramSchema), OutputSchema: []byte(outputSchema), Run: countingAnalysis(&runs),
				}, append([]string{
					"--input_directory=" + f.in, "--output_directory=" + out, "--scratch_directory=" + t.TempDir(),
					"--dry_run=0", "--results_database=" + f.db, "--results_collection=" + collection,
					"--analysis_bucket=s3://" + f.bucket + "/results", "--code_url=https://example.org/go", "--code_version=0.1.0", "--log-level=error",
				}, f.env.DocDBFlags()...))
			}
			first := t.TempDir()
			if code := run("results", first); code != 0 || runs.Load() != 2 {
				t.Fatalf("first run: exit %d, %d analyses", code, runs.Load())
			}
			// The two jobs' hashes, told apart by the cutoff their result.txt holds.
			var hash, other string
			entries, _ := os.ReadDir(first)
			for _, e := range entries {
				if b, err := os.ReadFile(filepath.Join(first, e.Name(), "result.txt")); err == nil && strings.Contains(string(b), "0.4") {
					hash = e.Name()
				} else if err == nil {
					other = e.Name()
				}
			}
			if hash == "" || other == "" {
				t.Fatalf("result folders %v: want one per job", entries)
			}
			tt.forge(t, f, hash, other)
			prefix := "s3://" + f.bucket + "/results/" + hash
			before := f.contents(t, prefix)

			second := t.TempDir()
			if code := run("other", second); code != fault.ExitFailed {
				t.Fatalf("run for another collection: exit %d, want %d (a job failed permanently)", code, fault.ExitFailed)
			}
			if runs.Load() != 2 {
				t.Fatalf("the analysis ran %d times in all, want 2 (none for the other collection)", runs.Load())
			}
			g := *f
			g.records = f.env.OpenDocDB(t).Collection(f.db, "other")
			if rec := g.record(t, hash); rec != nil {
				t.Fatalf("the forged result was recorded for the other collection: %v", rec)
			}
			if rec := g.record(t, other); rec == nil {
				t.Fatal("the other job's own result was not adopted for the other collection")
			}
			if after := f.contents(t, prefix); !reflect.DeepEqual(after, before) {
				t.Fatal("objects under the forged prefix changed")
			}
			var marker result.Marker
			markers, _ := filepath.Glob(filepath.Join(second, result.FailedPrefix+"*"))
			if len(markers) != 1 {
				t.Fatalf("failed markers %v, want one", markers)
			}
			b, _ := os.ReadFile(markers[0])
			if err := json.Unmarshal(b, &marker); err != nil {
				t.Fatal(err)
			}
			if want := tt.wantErr(f, hash, other); marker.Hash != hash || !strings.Contains(marker.Reason, want) {
				t.Fatalf("failed marker %+v, want hash %s and a reason naming %q", marker, hash, want)
			}
		})
	}
}
