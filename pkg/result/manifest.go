package result

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// Manifest lists a published result's files (manifest.json). It is uploaded last, so its
// presence means every file it names was uploaded.
type Manifest struct {
	// Hash is the result's identity (its folder and record _id).
	Hash string `json:"hash"`
	// Created is when the result was published (RFC 3339, UTC).
	Created string `json:"created"`
	// Files are the result's files except manifest.json, sorted by path.
	Files []ManifestEntry `json:"files"`
}

// ManifestEntry is one file of a result.
type ManifestEntry struct {
	// Path is slash-separated and relative to the result folder.
	Path string `json:"path"`
	// Size is in bytes.
	Size int64 `json:"size"`
	// SHA256 is the hex SHA-256 of the file's bytes.
	SHA256 string `json:"sha256"`
}

// Opener opens objects; storage.Store implements it. Open fails with storage.IsNotFound
// true on an absent object.
type Opener interface {
	Open(ctx context.Context, u storage.URL) (io.ReadCloser, error)
}

// ReadManifest reads <location>/manifest.json and checks that every path in it is safe as
// a local path (storage.CheckRelPath). A result without one is incomplete: that, an
// undecodable manifest and an unsafe path are permanent errors; store errors keep their
// class.
func ReadManifest(ctx context.Context, store Opener, location storage.URL) (Manifest, error) {
	m, err := readManifest(ctx, store, location)
	if storage.IsNotFound(err) {
		return Manifest{}, fault.Permanent(fmt.Errorf("%s has no %s: the result is incomplete or not a published result", location, ManifestFile))
	}
	return m, err
}

// readManifest is ReadManifest with an absent manifest.json left as the store's error
// (storage.IsNotFound), for a caller to whom no manifest is an answer, not a fault.
func readManifest(ctx context.Context, store Opener, location storage.URL) (Manifest, error) {
	u := location.Join(ManifestFile)
	var m Manifest
	if err := readJSON(ctx, store, u, &m); err != nil {
		return Manifest{}, err
	}
	if err := m.checkPaths(); err != nil {
		return Manifest{}, fault.Permanent(fmt.Errorf("%s: %w", u, err))
	}
	return m, nil
}

// readJSON decodes the object at u into v: the one way this package reads the JSON files
// of a published result. Store errors keep their class (an absent object: storage.IsNotFound);
// an undecodable object is a permanent error. Errors name u.
func readJSON(ctx context.Context, store Opener, u storage.URL, v any) error {
	rc, err := store.Open(ctx, u)
	if err != nil {
		return fmt.Errorf("reading %s: %w", u, err)
	}
	defer rc.Close()
	if err := json.NewDecoder(rc).Decode(v); err != nil {
		return fault.Permanent(fmt.Errorf("reading %s: %w", u, err))
	}
	return nil
}

// checkPaths checks every file's path is a plain relative path (no "..", no absolute or
// empty path, no separator other than "/") and is not manifest.json itself.
func (m Manifest) checkPaths() error {
	for i, e := range m.Files {
		if err := storage.CheckRelPath(e.Path); err != nil {
			return fmt.Errorf("files[%d].path: unsafe as a local path: %w", i, err)
		}
		if e.Path == ManifestFile {
			return fmt.Errorf("files[%d].path: the manifest cannot list itself", i)
		}
	}
	return nil
}

// Check verifies a listing of the result's prefix against the manifest. listing maps each
// object's path, relative to the prefix, to its size in bytes. The listing must hold
// exactly the manifest's files, each with its size, and manifest.json. An unsafe path in
// the manifest, a missing file, a size mismatch and a missing manifest are permanent
// errors; an object the manifest does not name is a transient one (another writer under
// the prefix: a retry clears it and publishes again). Errors name the first problem by
// path, in path order.
func (m Manifest) Check(listing map[string]int64) error {
	if err := m.checkPaths(); err != nil {
		return fault.Permanent(err)
	}
	named := make(map[string]bool, len(m.Files)+1)
	named[ManifestFile] = true
	for _, e := range m.Files {
		named[e.Path] = true
		got, ok := listing[e.Path]
		if !ok {
			return fault.Permanent(fmt.Errorf("%s missing after upload", e.Path))
		}
		if got != e.Size {
			return fault.Permanent(fmt.Errorf("%s has %d bytes, uploaded %d", e.Path, got, e.Size))
		}
	}
	if _, ok := listing[ManifestFile]; !ok {
		return fault.Permanent(fmt.Errorf("%s missing after upload", ManifestFile))
	}
	var extra []string
	for p := range listing {
		if !named[p] {
			extra = append(extra, p)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fault.Transient(fmt.Errorf("%s is not in the manifest (%d objects in all): another writer is under the prefix", extra[0], len(extra)))
	}
	return nil
}
