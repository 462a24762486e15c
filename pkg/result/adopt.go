package result

import (
	"context"
	"errors"
	"fmt"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// Adopt records, in this publisher's record store, a complete result already under
// <bucket>/<hash>/ that no record of this store points to. The bucket is shared by every
// results collection (and outlives a lost record), while records are per collection: the
// same work run for another collection, or a result whose record was lost, is there and
// complete, and the identity says it is the same work. Adopt never deletes or writes an
// object: it checks the prefix against its manifest.json, reads its metadata.nd.json and,
// after the fence, inserts that document as the record (insert-if-absent).
//
// It returns true when the result is recorded here now (by this call, or by another writer
// meanwhile); false, nil when the prefix has no manifest.json (nothing complete: the job
// runs and Upload clears what is there); an error when the prefix holds a manifest that
// its objects do not match or an unreadable metadata.nd.json (permanent: nothing is touched)
// or when the fence refuses (its error).
func (p Publisher) Adopt(ctx context.Context, fence Fence, hash string) (bool, error) {
	dest := p.Bucket.Join(hash)
	// One request in the common case (nothing there) and on the way to adopting: the
	// manifest is read once, its absence being the answer "nothing complete".
	m, err := readManifest(ctx, p.Store, dest)
	if storage.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("looking for a complete result under %s: %w", dest, err)
	}
	if m.Hash != hash {
		return false, fault.Permanent(fmt.Errorf("%s holds a %s for %q, not for its own hash; left untouched", dest, ManifestFile, m.Hash))
	}
	if err := p.verify(ctx, dest, m); err != nil {
		return false, fault.Permanent(fmt.Errorf("%s holds a %s that its objects do not match; left untouched: %w", dest, ManifestFile, err))
	}
	meta, err := readMetadata(ctx, p.Store, dest.Join(MetadataFile))
	if err != nil {
		return false, err
	}
	p.Log.Warn().Str("prefix", dest.String()).Msg("a complete result with this identity is already in the bucket but not recorded here: recording it, not recomputing it")
	if err := p.Record(ctx, fence, m, meta); err != nil && !errors.Is(err, ErrRecordedElsewhere) {
		return false, err
	}
	return true, nil
}

// readMetadata reads a published metadata.nd.json.
func readMetadata(ctx context.Context, store Opener, u storage.URL) (identity.Metadata, error) {
	var meta identity.Metadata
	err := readJSON(ctx, store, u, &meta)
	if storage.IsNotFound(err) {
		return meta, fault.Permanent(fmt.Errorf("%s is missing from a result that has a %s", u, ManifestFile))
	}
	return meta, err
}
