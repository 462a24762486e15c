package wrapper_test

import (
	"context"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/docdb"
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
