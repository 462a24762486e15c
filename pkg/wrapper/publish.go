package wrapper

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/sync/errgroup"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// Manifest lists a published result's files; it is uploaded last, so its presence means
// every file it names was uploaded.
type Manifest struct {
	Hash    string          `json:"hash"`
	Created string          `json:"created"`
	Files   []ManifestEntry `json:"files"`
}

// ManifestEntry is one file of a result.
type ManifestEntry struct {
	Path   string `json:"path"` // slash-separated, relative to the result folder
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// publish uploads outDir to <bucket>/<hash>/ and returns its manifest, uploaded last and
// checked against the listing; record then writes the record. The caller holds the job's
// claim (held) and has checked that no record exists. Before each step that only the
// holder may take, publish and record confirm both again (fence): before removing objects
// already under the prefix (leftovers of a crashed attempt) and before writing the record,
// which is created insert-if-absent. A claim that cannot be confirmed stops the job
// (ErrClaimLost, transient); a record that appeared is errRecordedElsewhere, and then
// nothing is deleted or written.
func (r *runner) publish(ctx context.Context, outDir, hash string, held *lease, log zerolog.Logger) (Manifest, error) {
	store := r.deps.Store
	dest := r.cfg.Bucket.Join(hash)
	if err := r.fence(ctx, held, hash, "clearing the prefix"); err != nil {
		return Manifest{}, err
	}
	var leftovers []storage.URL
	if err := store.List(ctx, dest, func(o storage.Object) error {
		leftovers = append(leftovers, o.URL)
		return nil
	}); err != nil {
		return Manifest{}, err
	}
	if len(leftovers) > 0 {
		log.Warn().Int("objects", len(leftovers)).Str("prefix", dest.String()).Msg("removing an incomplete earlier upload (no record points to it)")
		if err := forEach(ctx, r.cfg.UploadConcurrency, leftovers, func(ctx context.Context, u storage.URL) error { return store.Delete(ctx, u) }); err != nil {
			return Manifest{}, err
		}
	}
	m := Manifest{Hash: hash, Created: identity.Timestamp(r.deps.Now())}
	paths, err := resultFiles(outDir)
	if err != nil {
		return m, err
	}
	// Each file is hashed while it is uploaded: the manifest has the size and SHA-256 of
	// exactly the bytes sent, and a large result is read from disk once, not twice.
	m.Files = make([]ManifestEntry, len(paths))
	err = forEach(ctx, r.cfg.UploadConcurrency, indices(len(paths)), func(ctx context.Context, i int) error {
		e, err := uploadHashed(ctx, store, filepath.Join(outDir, filepath.FromSlash(paths[i])), dest.Join(paths[i]))
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
	if err := writeJSON(filepath.Join(outDir, ManifestFile), m); err != nil {
		return m, err
	}
	if err := store.PutFile(ctx, filepath.Join(outDir, ManifestFile), dest.Join(ManifestFile), storage.PutOptions{IfNotExists: true, ContentType: "application/json"}); err != nil {
		return m, err
	}
	if err := verify(ctx, store, dest, m); err != nil {
		return m, err
	}
	return m, nil
}

// record writes the job's record (metadata.nd.json's document, _id = hash) insert-if-absent,
// after a fence; a record that is not ours is errRecordedElsewhere.
func (r *runner) record(ctx context.Context, hash string, meta identity.Metadata, m Manifest, held *lease, log zerolog.Logger) error {
	doc, err := recordDocument(hash, meta)
	if err != nil {
		return err
	}
	if err := r.fence(ctx, held, hash, "writing the record"); err != nil {
		return err
	}
	ours, err := r.deps.Records.InsertIfAbsent(ctx, hash, doc)
	if err != nil {
		return err
	}
	if !ours {
		return fmt.Errorf("%w (its record was written while this one uploaded)", errRecordedElsewhere)
	}
	log.Info().Str("location", meta.Location).Int("files", len(m.Files)+1).Msg("result published and recorded")
	return nil
}

// fence confirms, right before step, that this wrapper still holds the job's claim
// (renewing it within the renewal deadline) and that no record exists.
func (r *runner) fence(ctx context.Context, held *lease, hash, step string) error {
	if err := held.confirm(ctx, step); err != nil {
		return err
	}
	done, err := r.isDone(ctx, hash)
	if err != nil {
		return err
	}
	if done {
		return fmt.Errorf("%w (found before %s)", errRecordedElsewhere, step)
	}
	return nil
}

// resultFiles lists the files under dir, slash-separated and relative to it, in sorted
// order, except the manifest.
func resultFiles(dir string) ([]string, error) {
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

// verify lists the uploaded prefix and checks every manifest file is there with its size.
func verify(ctx context.Context, store storage.Store, dest storage.URL, m Manifest) error {
	sizes := map[string]int64{}
	if err := store.List(ctx, dest, func(o storage.Object) error {
		sizes[o.Rel] = o.Size
		return nil
	}); err != nil {
		return err
	}
	for _, e := range m.Files {
		got, ok := sizes[e.Path]
		if !ok {
			return fault.Permanent(fmt.Errorf("verifying %s: %s missing after upload", dest, e.Path))
		}
		if got != e.Size {
			return fault.Permanent(fmt.Errorf("verifying %s: %s has %d bytes, uploaded %d", dest, e.Path, got, e.Size))
		}
	}
	if _, ok := sizes[ManifestFile]; !ok {
		return fault.Permanent(fmt.Errorf("verifying %s: manifest missing after upload", dest))
	}
	return nil
}

// recordDocument is the DocDB record: the metadata with _id = hash, numbers as numbers.
func recordDocument(hash string, meta identity.Metadata) (bson.D, error) {
	b, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("encoding record: %w", err)
	}
	var doc bson.D
	if err := bson.UnmarshalExtJSON(b, false, &doc); err != nil {
		return nil, fmt.Errorf("encoding record: %w", err)
	}
	return append(bson.D{{Key: "_id", Value: hash}}, doc...), nil
}
