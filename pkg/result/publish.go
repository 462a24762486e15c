package result

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// ErrRecordedElsewhere means a record of the result appeared that this publisher did not
// write: another wrapper finished the job. The publisher leaves the record and the prefix
// alone; the job is done.
var ErrRecordedElsewhere = errors.New("another wrapper recorded this result first")

// Fence guards the steps only the holder of the job's claim may take. Confirm is called
// right before step (StepUpload, StepRecord) and returns nil only when the caller still
// holds the claim (known to be held for a good while yet, renewing it if need be, within a
// bounded time) and, before StepUpload, no record of the result exists (before StepRecord
// the insert-if-absent itself finds one). Otherwise the step is not taken and Confirm's
// error is returned as is: wrapping ErrRecordedElsewhere when a record exists, else why the
// claim is not known to be held (the wrapper's ErrClaimLost, transient).
type Fence interface {
	Confirm(ctx context.Context, step string) error
}

// Inserter creates records; docdb.Store implements it. InsertIfAbsent creates the record
// with _id = id only if none exists (never overwriting one) and reports whether the stored
// record is doc.
type Inserter interface {
	InsertIfAbsent(ctx context.Context, id string, doc any) (bool, error)
}

// Publisher publishes results: files to <Bucket>/<hash>/ in Store, records through
// Records. It keeps the publish protocol's store-level steps; the claim is the caller's,
// confirmed through a Fence.
type Publisher struct {
	Store   storage.Store
	Bucket  storage.URL
	Records Inserter
	// Concurrency bounds simultaneous uploads and deletes (below 1: 8).
	Concurrency int
	// Now is the clock for the manifest's created time (time.Now when nil).
	Now func() time.Time
	// Log says what was cleared and recorded.
	Log zerolog.Logger
}

// Upload publishes the result folder dir as <Bucket>/<hash>/ and returns its manifest:
//
//  1. fence (the claim is held and no record exists, so nothing recorded is touched);
//     then, unless before (Look's listing, taken while the caller held the claim) says the
//     prefix was empty, list it and delete what is there (leftovers of a crashed holder);
//  2. upload every file of dir with If-None-Match (never overwriting: an object already
//     there means a concurrent writer, a transient error), hashing each while it is sent;
//  3. write manifest.json into dir and upload it last;
//  4. list the prefix and Check it against the manifest.
//
// The caller holds the job's claim and has checked that no record exists. Errors keep
// their class (storage's, the fence's, Check's) and say which step failed.
//
// An empty prefix stays empty while the caller holds the claim, except for objects of a
// holder whose claim lapsed: those make an upload collide (If-None-Match) or the listing
// of step 4 fail, both transient.
func (p Publisher) Upload(ctx context.Context, fence Fence, hash, dir string, before Prefix) (Manifest, error) {
	dest := p.Bucket.Join(hash)
	if err := fence.Confirm(ctx, StepUpload); err != nil {
		return Manifest{}, err
	}
	if before.Leftovers() {
		if err := p.clear(ctx, dest); err != nil {
			return Manifest{}, err
		}
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	m := Manifest{Hash: hash, Created: identity.Timestamp(now())}
	paths, err := localFiles(dir)
	if err != nil {
		return m, err
	}
	// Each file is hashed while it is uploaded: the manifest has the size and SHA-256 of
	// exactly the bytes sent, and a large result is read from disk once, not twice.
	m.Files = make([]ManifestEntry, len(paths))
	err = forEach(ctx, p.concurrency(), indices(len(paths)), func(ctx context.Context, i int) error {
		e, err := uploadHashed(ctx, p.Store, filepath.Join(dir, filepath.FromSlash(paths[i])), dest.Join(paths[i]))
		e.Path = paths[i]
		m.Files[i] = e
		return err
	})
	if err != nil {
		if storage.IsExists(err) {
			return m, fault.Transient(fmt.Errorf("another wrapper is publishing the same result: %w", err))
		}
		return m, err
	}
	local := filepath.Join(dir, ManifestFile)
	if err := WriteJSON(local, m); err != nil {
		return m, err
	}
	if err := p.Store.PutFile(ctx, local, dest.Join(ManifestFile), storage.PutOptions{IfNotExists: true, ContentType: "application/json"}); err != nil {
		return m, fmt.Errorf("uploading %s: %w", ManifestFile, err)
	}
	if err := p.verify(ctx, dest, m); err != nil {
		return m, err
	}
	return m, nil
}

// Record writes the record of the result m describes (meta's document, _id = m.Hash)
// insert-if-absent, after a fence. A record that is not ours, found by the fence or by the
// insert, is ErrRecordedElsewhere; nothing is written then.
func (p Publisher) Record(ctx context.Context, fence Fence, m Manifest, meta identity.Metadata) error {
	doc, err := Document(m.Hash, meta)
	if err != nil {
		return err
	}
	if err := fence.Confirm(ctx, StepRecord); err != nil {
		return err
	}
	ours, err := p.Records.InsertIfAbsent(ctx, m.Hash, doc)
	if err != nil {
		return fmt.Errorf("writing the record of %s: %w", m.Hash, err)
	}
	if !ours {
		return fmt.Errorf("%w (its record was written while this one uploaded)", ErrRecordedElsewhere)
	}
	p.Log.Info().Str("location", meta.Location).Int("files", len(m.Files)+1).Msg("result published and recorded")
	return nil
}

func (p Publisher) concurrency() int {
	if p.Concurrency < 1 {
		return 8
	}
	return p.Concurrency
}

// clear deletes every object under dest; the caller has just passed the fence.
func (p Publisher) clear(ctx context.Context, dest storage.URL) error {
	var leftovers []storage.URL
	if err := p.Store.List(ctx, dest, func(o storage.Object) error {
		leftovers = append(leftovers, o.URL)
		return nil
	}); err != nil {
		return fmt.Errorf("listing %s before publishing: %w", dest, err)
	}
	if len(leftovers) == 0 {
		return nil
	}
	for _, u := range leftovers {
		if u.String() == dest.Join(ManifestFile).String() {
			// Complete: another collection's wrapper published it while this job ran (or
			// before Adopt looked). Never removed; a retry adopts it.
			return fault.Transient(fmt.Errorf("a complete result appeared under %s while this job ran: left untouched; a retry records it", dest))
		}
	}
	p.Log.Warn().Int("objects", len(leftovers)).Str("prefix", dest.String()).Msg("removing an incomplete earlier upload (no record points to it)")
	err := forEach(ctx, p.concurrency(), leftovers, func(ctx context.Context, u storage.URL) error { return p.Store.Delete(ctx, u) })
	if err != nil {
		return fmt.Errorf("clearing %s: %w", dest, err)
	}
	return nil
}

// verify lists dest and checks it against m.
func (p Publisher) verify(ctx context.Context, dest storage.URL, m Manifest) error {
	sizes := map[string]int64{}
	if err := p.Store.List(ctx, dest, func(o storage.Object) error {
		sizes[o.Rel] = o.Size
		return nil
	}); err != nil {
		return fmt.Errorf("verifying %s: %w", dest, err)
	}
	if err := m.Check(sizes); err != nil {
		return fmt.Errorf("verifying %s: %w", dest, err) // keeps Check's class
	}
	return nil
}

// localFiles lists the files under dir, slash-separated and relative to it, in sorted
// order, except the manifest.
func localFiles(dir string) ([]string, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if rel = filepath.ToSlash(rel); rel != ManifestFile {
			paths = append(paths, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing result files in %s: %w", dir, err)
	}
	sort.Strings(paths)
	return paths, nil
}

// uploadHashed uploads the file at path to u (never overwriting) and returns its manifest
// entry, without the path: the size and SHA-256 of the bytes read while uploading.
func uploadHashed(ctx context.Context, store storage.Store, path string, u storage.URL) (ManifestEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return ManifestEntry{}, fault.Permanent(fmt.Errorf("uploading %s: %w", path, err))
	}
	defer f.Close()
	info, err := f.Stat()
	if err == nil && !info.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	if err != nil {
		return ManifestEntry{}, fault.Permanent(fmt.Errorf("uploading %s: %w", path, err))
	}
	hr := &hashingReader{r: f, h: sha256.New(), size: info.Size()}
	if err := store.Put(ctx, u, hr, storage.PutOptions{IfNotExists: true}); err != nil {
		return ManifestEntry{}, fmt.Errorf("uploading %s: %w", path, err) // keeps err's class
	}
	// A store reads its body to the end; if one did not, the object misses the rest.
	if rest, err := io.Copy(io.Discard, f); err != nil || rest > 0 {
		return ManifestEntry{}, fault.Permanent(fmt.Errorf("uploading %s: %d bytes sent, %d more in the file (%v)", path, hr.n, rest, err))
	}
	return ManifestEntry{Size: hr.n, SHA256: hex.EncodeToString(hr.h.Sum(nil))}, nil
}

// hashingReader hashes and counts what is read through it. Len (the bytes left, by the
// file's size when opened) lets the S3 store choose between one request and parts.
type hashingReader struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	size int64
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

func (h *hashingReader) Len() int { return int(max(h.size-h.n, 0)) }

// indices returns 0, 1, ..., n-1.
func indices(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// forEach runs fn on every item with at most limit at once; the first error cancels the rest.
func forEach[T any](ctx context.Context, limit int, items []T, fn func(context.Context, T) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for _, it := range items {
		g.Go(func() error { return fn(ctx, it) })
	}
	return g.Wait()
}
