package results

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
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
// Dest/<hash>/, concurrently, checking every file's size and SHA-256 while writing it.
// Files are written under a temporary name and renamed when verified; a mismatch removes
// the file and fails with ErrCorrupt naming the result, the file and both digests.
func Get(ctx context.Context, store Reader, results []Download, o GetOptions) error {
	if o.Concurrency < 1 {
		o.Concurrency = 8
	}
	type task struct {
		d Download
		e result.ManifestEntry
	}
	var tasks []task
	manifests := map[string]result.Manifest{}
	for _, d := range results {
		// The hash is a record's _id, data: it becomes a folder under Dest only when it is
		// one plain name, checked before anything is written.
		if err := storage.CheckName(d.Hash); err != nil {
			return fault.Permanent(fmt.Errorf("result record %q: field _id cannot be a local folder name: %w", d.Hash, err))
		}
	}
	for _, d := range results {
		m, err := result.ReadManifest(ctx, store, d.Location)
		if err != nil {
			return fmt.Errorf("result %s: %w", d.Hash, err)
		}
		manifests[d.Hash] = m
		for _, e := range m.Files {
			tasks = append(tasks, task{d, e})
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Concurrency)
	for _, t := range tasks {
		g.Go(func() error {
			dst := filepath.Join(o.Dest, t.d.Hash, filepath.FromSlash(t.e.Path))
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
	for _, d := range results {
		if err := result.WriteJSON(filepath.Join(o.Dest, d.Hash, result.ManifestFile), manifests[d.Hash]); err != nil {
			return fmt.Errorf("result %s: %w", d.Hash, err)
		}
	}
	return nil
}

// fetch copies one object to dst, verifying size and SHA-256 before renaming it in place.
func fetch(ctx context.Context, store Reader, src storage.URL, dst string, want result.ManifestEntry) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fault.Permanent(err)
	}
	rc, err := store.Open(ctx, src)
	if err != nil {
		if storage.IsNotFound(err) {
			return fault.Permanent(fmt.Errorf("%s: listed in the manifest but missing: %w", want.Path, ErrCorrupt))
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
		return fault.Permanent(fmt.Errorf("%s: %d bytes, the manifest says %d: %w", want.Path, n, want.Size, ErrCorrupt))
	case sum != want.SHA256:
		return fault.Permanent(fmt.Errorf("%s: sha256 %s, the manifest says %s: %w", want.Path, sum, want.SHA256, ErrCorrupt))
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
