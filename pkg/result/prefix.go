package result

import (
	"context"
	"fmt"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// The steps a Fence is asked to confirm.
const (
	// StepUpload is the first write under the prefix (the deletion of a crashed attempt's
	// leftovers, if any, then the uploads): the caller must hold the claim and no record of
	// the result may exist, so that nothing is deleted from, or added to, a recorded result.
	StepUpload = "uploading into the prefix"
	// StepRecord is the record's insert-if-absent: the caller must hold the claim (the
	// insert itself finds a record that exists, and then writes nothing).
	StepRecord = "writing the record"
)

// Prefix is what a job's prefix <bucket>/<hash>/ held when Look listed it, before the job
// ran. The zero Prefix means "not looked at": Upload then lists the prefix itself.
type Prefix struct {
	looked bool
	// Objects maps each object's path relative to the prefix to its size in bytes.
	Objects map[string]int64
}

// Look lists <Bucket>/<hash>/ once. That one request answers both questions a claimed
// job asks before it runs: is a complete result there (Complete: manifest.json, uploaded
// last, is among the objects; then it was recorded meanwhile or can be adopted), and is
// there anything a crashed attempt left (Leftovers: Upload clears it after the fence)?
// On a fresh job the prefix is empty and neither Adopt's read of the manifest nor
// Upload's listing before clearing is needed. Store errors keep their class.
func (p Publisher) Look(ctx context.Context, hash string) (Prefix, error) {
	dest := p.Bucket.Join(hash)
	pr := Prefix{looked: true, Objects: map[string]int64{}}
	if err := p.Store.List(ctx, dest, func(o storage.Object) error {
		pr.Objects[o.Rel] = o.Size
		return nil
	}); err != nil {
		return Prefix{}, fmt.Errorf("listing %s: %w", dest, err)
	}
	return pr, nil
}

// Complete reports whether the prefix held a manifest.json: a result was published there
// (complete, if its objects match it; Adopt checks that).
func (pr Prefix) Complete() bool {
	_, ok := pr.Objects[ManifestFile]
	return ok
}

// Leftovers reports whether the prefix must be cleared before an upload: it was not looked
// at, or it held objects.
func (pr Prefix) Leftovers() bool { return !pr.looked || len(pr.Objects) > 0 }
