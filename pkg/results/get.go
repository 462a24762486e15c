package results

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/result"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// Reader is what reading results needs from storage: storage.Store implements it.
// List and Open follow the storage.Store contract (IsNotFound on absent objects).
type Reader interface {
	List(ctx context.Context, prefix storage.URL, fn func(storage.Object) error) error
	Open(ctx context.Context, u storage.URL) (io.ReadCloser, error)
}

// ErrCorrupt marks a downloaded file that does not match its manifest.
var ErrCorrupt = errors.New("result does not match its manifest")

// File is one object of a result, as ls shows it.
type File struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// ListFiles lists the files under location, relative to it, with their sizes.
func ListFiles(ctx context.Context, store Reader, location storage.URL) ([]File, error) {
	var files []File
	err := store.List(ctx, location, func(o storage.Object) error {
		files = append(files, File{Path: o.Rel, Size: o.Size})
		return nil
	})
	return files, err
}

// Download is one result to fetch: its hash (the record's _id, which Get uses as the local
// folder name after checking it is one plain name) and location.
type Download struct {
	Hash     string
	Location storage.URL
}

// GetOptions tune Get.
type GetOptions struct {
	// Dest is the local folder; each result lands in Dest/<hash>/.
	Dest string
	// Concurrency bounds simultaneous file downloads (default 8).
	Concurrency int
	// Progress, if set, is called after each verified file.
	Progress func(hash string, e result.ManifestEntry)
}

// Get downloads each result's files listed in its manifest (and the manifest) into
// Dest/<hash>/, concurrently, and verifies each result before it appears there: its
// manifest is for hash; every file has the manifest's size and SHA-256 (checked while it is
// written); and its metadata.nd.json describes the job hash at its location
// (result.CheckMetadata: the identity of its Code block is hash). Results are downloaded
// into temporary folders in Dest (".<hash>.part-*") and renamed into place only when every
// one verified, replacing a folder already at Dest/<hash>; on any failure the temporary
// folders are removed and nothing is left in Dest. A file that does not match the manifest
// fails with ErrCorrupt naming the result, the object and both digests; metadata of
// another job, a manifest for another hash or without a metadata.nd.json are permanent
// errors naming the result and the object and field.
func Get(ctx context.Context, store Reader, results []Download, o GetOptions) error {
	if o.Concurrency < 1 {
		o.Concurrency = 8
	}
	type task struct {
		d   Download
		e   result.ManifestEntry
		dir string // the result's temporary folder
	}
	for _, d := range results {
		// The hash is a record's _id, data: it becomes a folder under Dest only when it is
		// one plain name, checked before anything is written.
		if err := storage.CheckName(d.Hash); err != nil {
			return fault.Permanent(fmt.Errorf("result record %q: field _id cannot be a local folder name: %w", d.Hash, err))
		}
	}
	results = uniqueHashes(results)
	manifests := make([]result.Manifest, len(results))
	for i, d := range results {
		m, err := result.ReadManifest(ctx, store, d.Location)
		if err != nil {
			return fmt.Errorf("result %s: %w", d.Hash, err)
		}
		if err := result.CheckManifest(d.Location, d.Hash, m); err != nil {
			return fmt.Errorf("result %s: %w", d.Hash, err)
		}
		manifests[i] = m
	}
	if err := os.MkdirAll(o.Dest, 0o755); err != nil {
		return fault.Permanent(err)
	}
	staged := make([]string, len(results))
	defer func() {
		for _, dir := range staged {
			if dir != "" {
				_ = os.RemoveAll(dir) // a no-op once renamed into place
			}
		}
	}()
	var tasks []task
	for i, d := range results {
		dir, err := os.MkdirTemp(o.Dest, "."+d.Hash+".part-")
		if err != nil {
			return fault.Permanent(fmt.Errorf("result %s: %w", d.Hash, err))
		}
		staged[i] = dir
		for _, e := range manifests[i].Files {
			tasks = append(tasks, task{d, e, dir})
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Concurrency)
	for _, t := range tasks {
		g.Go(func() error {
			dst := filepath.Join(t.dir, filepath.FromSlash(t.e.Path))
			if err := fetch(gctx, store, t.d.Location.Join(t.e.Path), dst, t.e); err != nil {
				return fmt.Errorf("result %s: %w", t.d.Hash, err)
			}
			if o.Progress != nil {
				o.Progress(t.d.Hash, t.e)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, d := range results {
		if err := checkStaged(d, staged[i]); err != nil {
			return fmt.Errorf("result %s: %w", d.Hash, err)
		}
		if err := result.WriteJSON(filepath.Join(staged[i], result.ManifestFile), manifests[i]); err != nil {
			return fmt.Errorf("result %s: %w", d.Hash, err)
		}
	}
	for i, d := range results {
		if err := place(staged[i], filepath.Join(o.Dest, d.Hash)); err != nil {
			return fmt.Errorf("result %s: %w", d.Hash, err)
		}
	}
	return nil
}

// uniqueHashes drops repeated results (the same hash), keeping the first.
func uniqueHashes(results []Download) []Download {
	seen := map[string]bool{}
	var out []Download
	for _, d := range results {
		if !seen[d.Hash] {
			seen[d.Hash] = true
			out = append(out, d)
		}
	}
	return out
}

// checkStaged checks the downloaded (and verified) metadata.nd.json in dir describes the
// job d names.
func checkStaged(d Download, dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, result.MetadataFile))
	if err != nil {
		return fault.Permanent(err)
	}
	var meta identity.Metadata
	if err := json.Unmarshal(b, &meta); err != nil {
		return fault.Permanent(fmt.Errorf("reading %s: %w", d.Location.Join(result.MetadataFile), err))
	}
	return result.CheckMetadata(d.Location, d.Hash, meta)
}

// place renames the verified folder staged to dst, replacing what is there: the folder
// already there is moved aside first and removed once staged is in place.
func place(staged, dst string) error {
	// MkdirTemp made the folder private (0700); a downloaded result is as readable as any
	// folder the user creates.
	if err := os.Chmod(staged, 0o755); err != nil {
		return fault.Permanent(err)
	}
	var aside string
	if _, err := os.Lstat(dst); err == nil {
		aside = staged + ".old"
		if err := os.Rename(dst, aside); err != nil {
			return fault.Permanent(err)
		}
	}
	if err := os.Rename(staged, dst); err != nil {
		if aside != "" {
			_ = os.Rename(aside, dst)
		}
		return fault.Permanent(err)
	}
	if aside != "" {
		if err := os.RemoveAll(aside); err != nil {
			return fault.Permanent(err)
		}
	}
	return nil
}

// fetch copies one object to dst, verifying size and SHA-256 before renaming it in place.
// Errors name the object.
func fetch(ctx context.Context, store Reader, src storage.URL, dst string, want result.ManifestEntry) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fault.Permanent(err)
	}
	rc, err := store.Open(ctx, src)
	if err != nil {
		if storage.IsNotFound(err) {
			return fault.Permanent(fmt.Errorf("%s: listed in the manifest but missing: %w", src, ErrCorrupt))
		}
		return err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".part-*")
	if err != nil {
		return fault.Permanent(err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), rc)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("downloading %s: %w", src, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	switch {
	case n != want.Size:
		return fault.Permanent(fmt.Errorf("%s: %d bytes, the manifest says %d: %w", src, n, want.Size, ErrCorrupt))
	case sum != want.SHA256:
		return fault.Permanent(fmt.Errorf("%s: sha256 %s, the manifest says %s: %w", src, sum, want.SHA256, ErrCorrupt))
	}
	// CreateTemp makes the file private (0600); a downloaded result is as readable as any
	// file the user creates.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fault.Permanent(err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fault.Permanent(err)
	}
	return nil
}
