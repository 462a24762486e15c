package result

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// TestLookThenUpload: Look's one listing tells a fresh prefix (then Upload does not list
// it again before its puts), a crashed attempt's leftovers (listed and cleared after the
// fence, as without Look) and a published result. The fence comes first either way.
func TestLookThenUpload(t *testing.T) {
	tests := []struct {
		name          string
		before        map[string]string // objects under <bucket>/h/ before the job
		wantComplete  bool
		wantLeftovers bool
		wantLists     int // Look's, Upload's before clearing, and the verification's
	}{
		{"a fresh job", nil, false, false, 2},
		{"a crashed attempt's leftovers", map[string]string{"stale.txt": "old", "a.txt": "partial"}, false, true, 3},
		{"a published result (never uploaded over)", map[string]string{"a.txt": "alpha", ManifestFile: "{}"}, true, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, map[string]string{"a.txt": "alpha", "metadata.nd.json": "{}"})
			for p, text := range tt.before {
				write(t, f.bucket.Join("h").Join(p).Path, text)
			}
			ctx := context.Background()
			pr, err := f.publisher().Look(ctx, "h")
			if err != nil {
				t.Fatal(err)
			}
			if pr.Complete() != tt.wantComplete || pr.Leftovers() != tt.wantLeftovers || len(pr.Objects) != len(tt.before) {
				t.Fatalf("Look: complete %v, leftovers %v, objects %v; want %v, %v, %d objects", pr.Complete(), pr.Leftovers(), pr.Objects, tt.wantComplete, tt.wantLeftovers, len(tt.before))
			}
			if tt.wantComplete {
				if f.store.lists != tt.wantLists {
					t.Errorf("%d listings, want %d", f.store.lists, tt.wantLists)
				}
				return // the wrapper adopts or skips it; it never uploads over it
			}
			if _, err := f.publisher().Upload(ctx, fakeFence{j: f.j}, "h", f.dir, pr); err != nil {
				t.Fatal(err)
			}
			steps := f.j.all()
			if steps[0] != "fence "+StepUpload || slices.Contains(steps[1:], "fence "+StepUpload) {
				t.Errorf("steps %v: want one fence, first", steps)
			}
			if f.store.lists != tt.wantLists {
				t.Errorf("%d listings, want %d", f.store.lists, tt.wantLists)
			}
			got := f.published(t)
			if _, stale := got["stale.txt"]; stale || got["a.txt"] != "alpha" || !strings.Contains(got[ManifestFile], `"a.txt"`) {
				t.Errorf("published %v: want exactly the result and its manifest", got)
			}
		})
	}
}

// TestUploadWithoutLookClearsFirst: a Prefix that was never looked at (the zero value) is
// taken to hold leftovers, so Upload keeps the safe order: fence, list, clear.
func TestUploadWithoutLookClearsFirst(t *testing.T) {
	if !(Prefix{}).Leftovers() {
		t.Fatal("the zero Prefix claims an empty prefix without having looked")
	}
}
