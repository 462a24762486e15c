package result

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
)

// Adopt runs before every published job: with nothing under the prefix it costs one read
// (of manifest.json) and takes no step; a complete result is adopted with manifest.json
// read once, after the fence.
func TestAdoptReadsTheManifestOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, map[string]string{"a.txt": "alpha"})
	adopted, err := f.publisher().Adopt(ctx, fakeFence{j: f.j}, "h")
	if err != nil || adopted {
		t.Fatalf("Adopt on an empty prefix: %v, %v", adopted, err)
	}
	if want := map[string]int{"h/" + ManifestFile: 1}; !reflect.DeepEqual(f.store.opens, want) {
		t.Errorf("reads on an empty prefix: %v, want %v", f.store.opens, want)
	}
	if steps := f.j.all(); len(steps) != 0 {
		t.Errorf("steps on an empty prefix: %v", steps)
	}

	meta := identity.NewMetadata(identity.Run{Hash: "h", Location: f.bucket.Join("h").String(), Start: time.Now(), End: time.Now()})
	if err := WriteJSON(filepath.Join(f.dir, MetadataFile), meta); err != nil {
		t.Fatal(err)
	}
	if _, err := f.publisher().Upload(ctx, fakeFence{j: f.j}, "h", f.dir, Prefix{}); err != nil {
		t.Fatal(err)
	}
	// Another collection's records: the result is complete in the bucket, not recorded here.
	f.records = &fakeRecords{j: f.j, docs: map[string]any{}}
	f.store.opens, f.j.steps = nil, nil
	adopted, err = f.publisher().Adopt(ctx, fakeFence{j: f.j}, "h")
	if err != nil || !adopted {
		t.Fatalf("Adopt on a complete result: %v, %v", adopted, err)
	}
	if want := map[string]int{"h/" + ManifestFile: 1, "h/" + MetadataFile: 1}; !reflect.DeepEqual(f.store.opens, want) {
		t.Errorf("reads to adopt: %v, want %v", f.store.opens, want)
	}
	if want := []string{"fence writing the record", "insert h"}; !reflect.DeepEqual(f.j.all(), want) {
		t.Errorf("steps to adopt: %v, want %v", f.j.all(), want)
	}
}
