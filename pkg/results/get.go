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
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// ManifestFile is the name of a result's manifest, uploaded last by the wrapper.
const ManifestFile = "manifest.json"

// Manifest is a published result's file list (the wrapper's manifest.json).
type Manifest struct {
	Hash    string          `json:"hash"`
	Created string          `json:"created"`
	Files   []ManifestEntry `json:"files"`
}

// ManifestEntry is one file of a result: slash-separated path, size and SHA-256.
type ManifestEntry struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Reader is what reading results needs from storage: storage.Store implements it.
// List and Open follow the storage.Store contract (IsNotFound on absent objects).
type Reader interface {
	List(ctx context.Context, prefix storage.URL, fn func(storage.Object) error) error
	Open(ctx context.Context, u storage.URL) (io.ReadCloser, error)
}

// ErrCorrupt marks a downloaded file that does not match its manifest.
var ErrCorrupt = errors.New("result does not match its manifest")

// ReadManifest reads <location>/manifest.json; a result without one is incomplete.
func ReadManifest(ctx context.Context, store Reader, location storage.URL) (Manifest, error) {
	rc, err := store.Open(ctx, location.Join(ManifestFile))
	if err != nil {
		if storage.IsNotFound(err) {
			return Manifest{}, fault.Permanent(fmt.Errorf("%s has no %s: the result is incomplete or not a published result", location, ManifestFile))
		}
		return Manifest{}, err
	}
	defer rc.Close()
	var m Manifest
	if err := json.NewDecoder(rc).Decode(&m); err != nil {
		return Manifest{}, fault.Permanent(fmt.Errorf("reading %s: %w", location.Join(ManifestFile), err))
	}
	for i, e := range m.Files {
		if err := storage.CheckRelPath(e.Path); err != nil {
			return Manifest{}, fault.Permanent(fmt.Errorf("%s: files[%d].path: unsafe as a local path: %w", location.Join(ManifestFile), i, err))
		}
	}
	return m, nil
}

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
	Progress func(hash string, e ManifestEntry)
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
		e ManifestEntry
	}
	var tasks []task
	manifests := map[string]Manifest{}
	for _, d := range results {
		// The hash is a record's _id, data: it becomes a folder under Dest only when it is
		// one plain name, checked before anything is written.
		if err := storage.CheckName(d.Hash); err != nil {
			return fault.Permanent(fmt.Errorf("result record %q: field _id cannot be a local folder name: %w", d.Hash, err))
		}
	}
	for _, d := range results {
		m, err := ReadManifest(ctx, store, d.Location)
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
		b, _ := json.MarshalIndent(manifests[d.Hash], "", "  ")
		if err := os.WriteFile(filepath.Join(o.Dest, d.Hash, ManifestFile), append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("result %s: writing manifest: %w", d.Hash, err)
		}
	}
	return nil
}

// fetch copies one object to dst, verifying size and SHA-256 before renaming it in place.
func fetch(ctx context.Context, store Reader, src storage.URL, dst string, want ManifestEntry) error {
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
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fault.Permanent(err)
	}
	return nil
}
