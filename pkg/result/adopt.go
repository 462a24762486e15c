package result

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// Adopt records, in this publisher's record store, a complete result already under
// <bucket>/<hash>/ that no record of this store points to. The bucket is shared by every
// results collection (and outlives a lost record), while records are per collection: the
// same work run for another collection, or a result whose record was lost, is there and
// complete. Adopt records it only when it is provably this job's own, and never deletes or
// writes an object. In order:
//
//  1. read manifest.json (one GET; absent: nothing complete) and CheckManifest: it names
//     hash and lists metadata.nd.json;
//  2. list the prefix and Check it against the manifest (one LIST: every file there with
//     its size, nothing else);
//  3. read metadata.nd.json (one GET), check its bytes against the manifest's size and
//     SHA-256, and CheckMetadata: it describes the job hash (its Code block has that
//     identity, its name and location are this result's);
//  4. check every other file's content against the manifest's SHA-256: one HEAD each,
//     whose checksum the store verified at upload (storage.Object.SHA256); the bytes are
//     read (a GET) only where the store keeps no whole-object SHA-256 (a multipart upload,
//     an object written without one, the local store);
//  5. after the fence, insert metadata.nd.json's document as the record (insert-if-absent).
//
// It returns true when the result is recorded here now (by this call, or by another writer
// meanwhile); false, nil when the prefix has no manifest.json (nothing complete: the job
// runs and Upload clears what is there). A result that fails a check (a manifest for
// another hash, a missing or resized file, content that is not the manifest's, metadata
// that describes another job) is a permanent error naming the prefix and the object or
// field, and nothing is recorded; store errors keep their class; a fence that refuses
// returns its error.
func (p Publisher) Adopt(ctx context.Context, fence Fence, hash string) (bool, error) {
	dest := p.Bucket.Join(hash)
	// One request in the common case (nothing there): the manifest is read once, its
	// absence being the answer "nothing complete".
	m, err := readManifest(ctx, p.Store, dest)
	if storage.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("looking for a complete result under %s: %w", dest, err)
	}
	if err := CheckManifest(dest, hash, m); err != nil {
		return false, fmt.Errorf("%s holds a %s that is not its job's; nothing recorded, nothing touched: %w", dest, ManifestFile, err)
	}
	if err := p.verify(ctx, dest, m); err != nil {
		return false, fault.Permanent(fmt.Errorf("%s holds a %s that its objects do not match; nothing recorded, nothing touched: %w", dest, ManifestFile, err))
	}
	meta, err := p.verifyContent(ctx, dest, hash, m)
	if err != nil {
		return false, fmt.Errorf("checking the result under %s before recording it (nothing recorded, nothing touched): %w", dest, err)
	}
	p.Log.Warn().Str("prefix", dest.String()).Msg("a complete result with this identity is already in the bucket but not recorded here: recording it, not recomputing it")
	if err := p.Record(ctx, fence, m, meta); err != nil && !errors.Is(err, ErrRecordedElsewhere) {
		return false, err
	}
	return true, nil
}

// verifyContent checks the content of every file of m (a manifest CheckManifest passed)
// under dest (steps 3 and 4 of Adopt) and returns the result's metadata, which describes the job hash. Files are checked
// concurrently; of several failures the first in path order is returned.
func (p Publisher) verifyContent(ctx context.Context, dest storage.URL, hash string, m Manifest) (identity.Metadata, error) {
	var (
		metaEntry ManifestEntry // CheckManifest made sure there is one
		others    []ManifestEntry
	)
	for _, e := range m.Files {
		if e.Path == MetadataFile {
			metaEntry = e
			continue
		}
		others = append(others, e)
	}
	meta, err := readVerifiedMetadata(ctx, p.Store, dest.Join(MetadataFile), metaEntry)
	if err != nil {
		return meta, err
	}
	if err := CheckMetadata(dest, hash, meta); err != nil {
		return meta, err
	}
	errs := make([]error, len(others))
	_ = forEach(ctx, p.concurrency(), indices(len(others)), func(ctx context.Context, i int) error {
		errs[i] = checkObject(ctx, p.Store, dest.Join(others[i].Path), others[i])
		return nil
	})
	for _, err := range errs {
		if err != nil {
			return meta, err
		}
	}
	return meta, nil
}

// readVerifiedMetadata reads the metadata.nd.json at u, checks its bytes against e (size
// and SHA-256) and decodes them.
func readVerifiedMetadata(ctx context.Context, store Opener, u storage.URL, e ManifestEntry) (identity.Metadata, error) {
	var meta identity.Metadata
	rc, err := store.Open(ctx, u)
	if storage.IsNotFound(err) {
		return meta, fault.Permanent(fmt.Errorf("%s is missing from a result that has a %s", u, ManifestFile))
	}
	if err != nil {
		return meta, fmt.Errorf("reading %s: %w", u, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, e.Size+1)) // never more than the manifest's size and a byte
	if err != nil {
		return meta, fmt.Errorf("reading %s: %w", u, err)
	}
	if err := checkBytes(u, int64(len(b)), sha256Hex(b), e); err != nil {
		return meta, err
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return meta, fault.Permanent(fmt.Errorf("reading %s: %w", u, err))
	}
	return meta, nil
}

// checkObject checks the object at u against its manifest entry e: its size, and its
// SHA-256 as the store recorded it at upload (one Stat) or, when the store has none, as
// read from its bytes (an Open more). A mismatch or a missing object is a permanent error
// naming u; store errors keep their class.
func checkObject(ctx context.Context, store storage.Store, u storage.URL, e ManifestEntry) error {
	obj, err := store.Stat(ctx, u)
	if storage.IsNotFound(err) {
		return fault.Permanent(fmt.Errorf("%s is listed in %s but missing", u, ManifestFile))
	}
	if err != nil {
		return fmt.Errorf("checking %s: %w", u, err)
	}
	if obj.Size != e.Size {
		return fault.Permanent(fmt.Errorf("%s: %d bytes in the store, %d in %s", u, obj.Size, e.Size, ManifestFile))
	}
	if obj.SHA256 != "" {
		if obj.SHA256 != e.SHA256 {
			return fault.Permanent(fmt.Errorf("%s: sha256 %s in the store, %s in %s", u, obj.SHA256, e.SHA256, ManifestFile))
		}
		return nil
	}
	rc, err := store.Open(ctx, u)
	if err != nil {
		return fmt.Errorf("checking %s: %w", u, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return fmt.Errorf("checking %s: %w", u, err)
	}
	return checkBytes(u, n, hex.EncodeToString(h.Sum(nil)), e)
}

// checkBytes compares the size and SHA-256 of the bytes read from u with its manifest
// entry; a mismatch is a permanent error naming u.
func checkBytes(u storage.URL, n int64, sum string, e ManifestEntry) error {
	switch {
	case n != e.Size:
		return fault.Permanent(fmt.Errorf("%s: %d bytes read, %d in %s", u, n, e.Size, ManifestFile))
	case sum != e.SHA256:
		return fault.Permanent(fmt.Errorf("%s: sha256 %s read, %s in %s", u, sum, e.SHA256, ManifestFile))
	}
	return nil
}

// sha256Hex is the lowercase hex SHA-256 of b.
func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
