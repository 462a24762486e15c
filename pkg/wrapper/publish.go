package wrapper

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
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

// BuildManifest hashes every file under dir except the manifest itself.
func BuildManifest(dir, hash, created string) (Manifest, error) {
	m := Manifest{Hash: hash, Created: created}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == ManifestFile {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return err
		}
		m.Files = append(m.Files, ManifestEntry{Path: rel, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
		return nil
	})
	if err != nil {
		return m, fmt.Errorf("building manifest of %s: %w", dir, err)
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	return m, nil
}

// publish uploads outDir to <bucket>/<hash>/ and then writes the record. The caller holds
// the job's claim and has checked that no record exists, so objects already under the
// prefix are leftovers of a crashed attempt and are removed first.
func (r *runner) publish(ctx context.Context, outDir, hash string, meta identity.Metadata, log zerolog.Logger) error {
	store := r.deps.Store
	dest := r.cfg.Bucket.Join(hash)
	var leftovers []storage.URL
	if err := store.List(ctx, dest, func(o storage.Object) error {
		leftovers = append(leftovers, o.URL)
		return nil
	}); err != nil {
		return err
	}
	if len(leftovers) > 0 {
		log.Warn().Int("objects", len(leftovers)).Str("prefix", dest.String()).Msg("removing an incomplete earlier upload (no record points to it)")
		if err := forEach(ctx, r.cfg.UploadConcurrency, leftovers, func(ctx context.Context, u storage.URL) error { return store.Delete(ctx, u) }); err != nil {
			return err
		}
	}
	m, err := BuildManifest(outDir, hash, identity.Timestamp(r.deps.Now()))
	if err != nil {
		return err
	}
	err = forEach(ctx, r.cfg.UploadConcurrency, m.Files, func(ctx context.Context, e ManifestEntry) error {
		return store.PutFile(ctx, filepath.Join(outDir, filepath.FromSlash(e.Path)), dest.Join(e.Path), storage.PutOptions{IfNotExists: true})
	})
	if err != nil {
		if storage.IsExists(err) {
			return fault.Transient(fmt.Errorf("another wrapper is publishing the same result: %w", err))
		}
		return err
	}
	if err := writeJSON(filepath.Join(outDir, ManifestFile), m); err != nil {
		return err
	}
	if err := store.PutFile(ctx, filepath.Join(outDir, ManifestFile), dest.Join(ManifestFile), storage.PutOptions{IfNotExists: true, ContentType: "application/json"}); err != nil {
		return err
	}
	if err := verify(ctx, store, dest, m); err != nil {
		return err
	}
	doc, err := recordDocument(hash, meta)
	if err != nil {
		return err
	}
	if err := r.deps.Records.Upsert(ctx, hash, doc); err != nil {
		return err
	}
	log.Info().Str("location", dest.String()).Int("files", len(m.Files)+1).Msg("result published and recorded")
	return nil
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
