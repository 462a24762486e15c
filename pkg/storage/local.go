package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// tempPrefix starts the names of Local's temporary files; List skips them.
const tempPrefix = ".storage-tmp-"

// Local is the Store over the local filesystem, for file:// URLs and plain paths.
//
// Objects are regular files (symbolic links are followed); directories are folders, never
// objects. Put writes a temporary file in the target's directory and renames it into place
// (with IfNotExists, hard-links it into place, which fails if the target exists), so readers
// never see a partial file. On a filesystem without hard links IfNotExists falls back to an
// exclusive create (O_EXCL) followed by a copy: still never an overwrite, but a reader may
// then see the file while it is written. Local errors are all permanent.
type Local struct{}

var _ Store = (*Local)(nil)

// NewLocal returns the local filesystem Store.
func NewLocal() *Local { return &Local{} }

// fail wraps err with the operation and URL and classifies it (permanent). A cancelled
// context is returned unclassified.
func (*Local) fail(op string, u URL, err error) error {
	err = fmt.Errorf("%s %s: %w", op, u, unpath(err))
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fault.Permanent(err)
}

// unpath drops the path an *fs.PathError or *os.LinkError repeats: Local's errors already
// name the URL.
func unpath(err error) error {
	switch e := err.(type) {
	case *fs.PathError:
		return e.Err
	case *os.LinkError:
		return e.Err
	}
	return err
}

func checkLocal(u URL) error {
	if u.Scheme != SchemeFile || u.Path == "" {
		return fault.Permanent(fmt.Errorf("local store: %q: %w", u.String(), errWrongScheme))
	}
	return nil
}

// List implements Store.
func (l *Local) List(ctx context.Context, prefix URL, fn func(Object) error) error {
	if err := checkLocal(prefix); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return l.fail("listing", prefix, err)
	}
	info, err := os.Stat(prefix.Path)
	switch {
	case err != nil && isAbsent(err):
		return nil
	case err != nil:
		return l.fail("listing", prefix, err)
	case !info.IsDir():
		return nil
	}
	w := walker{ctx: ctx, l: l, prefix: prefix, fn: fn}
	return w.walk(prefix.Path, "", []fs.FileInfo{info})
}

// walker lists a directory tree in the byte-wise order of the slash-separated paths, which
// is S3's key order: within a directory a subdirectory "d" sorts as "d/".
type walker struct {
	ctx    context.Context
	l      *Local
	prefix URL
	fn     func(Object) error
}

type walkEntry struct {
	name, sortKey string
	info          fs.FileInfo
}

func (w *walker) walk(dir, rel string, ancestors []fs.FileInfo) error {
	if err := w.ctx.Err(); err != nil {
		return w.l.fail("listing", w.prefix, err)
	}
	dirEntries, err := os.ReadDir(dir)
	if err != nil {
		if isAbsent(err) { // removed while listing
			return nil
		}
		return w.l.fail("listing", w.prefix, err)
	}
	entries := make([]walkEntry, 0, len(dirEntries))
	for _, de := range dirEntries {
		name := de.Name()
		if strings.HasPrefix(name, tempPrefix) {
			continue
		}
		info, err := os.Stat(filepath.Join(dir, name)) // follows symbolic links
		if err != nil {
			if isAbsent(err) { // dangling link, or removed while listing
				continue
			}
			return w.l.fail("listing", w.prefix, err)
		}
		e := walkEntry{name: name, sortKey: name, info: info}
		switch {
		case info.IsDir():
			e.sortKey = name + "/"
		case !info.Mode().IsRegular():
			continue // sockets, devices, pipes
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b walkEntry) int { return strings.Compare(a.sortKey, b.sortKey) })

	for _, e := range entries {
		full := filepath.Join(dir, e.name)
		erel := path.Join(rel, e.name)
		if e.info.IsDir() {
			if slices.ContainsFunc(ancestors, func(a fs.FileInfo) bool { return os.SameFile(a, e.info) }) {
				continue // a symbolic link back up the tree
			}
			if err := w.walk(full, erel, append(ancestors, e.info)); err != nil {
				return err
			}
			continue
		}
		obj := Object{
			URL:     URL{Scheme: SchemeFile, Path: full},
			Rel:     erel,
			Size:    e.info.Size(),
			ModTime: e.info.ModTime(),
		}
		if err := w.fn(obj); err != nil {
			return err
		}
	}
	return nil
}

// isAbsent reports whether a filesystem error means "no object here": the path or one of
// its parents does not exist, or a parent is a file.
func isAbsent(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Stat implements Store.
func (l *Local) Stat(ctx context.Context, u URL) (Object, error) {
	if err := checkLocal(u); err != nil {
		return Object{}, err
	}
	if err := ctx.Err(); err != nil {
		return Object{}, l.fail("stat", u, err)
	}
	info, err := os.Stat(u.Path)
	if err != nil {
		if isAbsent(err) {
			return Object{}, l.fail("stat", u, notFound(unpath(err)))
		}
		return Object{}, l.fail("stat", u, err)
	}
	if !info.Mode().IsRegular() {
		return Object{}, l.fail("stat", u, notFound(errors.New("not a regular file")))
	}
	return Object{
		URL:     u,
		Rel:     filepath.Base(u.Path),
		Size:    info.Size(),
		ModTime: info.ModTime(),
	}, nil
}

// Open implements Store.
func (l *Local) Open(ctx context.Context, u URL) (io.ReadCloser, error) {
	if err := checkLocal(u); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, l.fail("opening", u, err)
	}
	f, err := os.Open(u.Path)
	if err != nil {
		if isAbsent(err) {
			return nil, l.fail("opening", u, notFound(unpath(err)))
		}
		return nil, l.fail("opening", u, err)
	}
	info, err := f.Stat()
	if err == nil && !info.Mode().IsRegular() {
		err = notFound(errors.New("not a regular file"))
	}
	if err != nil {
		_ = f.Close()
		return nil, l.fail("opening", u, err)
	}
	return &reader{ctx: ctx, rc: f, fail: func(err error) error { return l.fail("reading", u, err) }}, nil
}

// Put implements Store.
func (l *Local) Put(ctx context.Context, u URL, r io.Reader, opts PutOptions) error {
	if err := checkLocal(u); err != nil {
		return err
	}
	return l.put(ctx, "writing", u, r, opts)
}

// PutFile implements Store.
func (l *Local) PutFile(ctx context.Context, localPath string, u URL, opts PutOptions) error {
	if err := checkLocal(u); err != nil {
		return err
	}
	f, err := openSource(localPath)
	if err != nil {
		return fault.Permanent(fmt.Errorf("uploading %s to %s: %v", localPath, u, err))
	}
	defer f.Close()
	return l.put(ctx, "uploading "+localPath+" to", u, f, opts)
}

// openSource opens PutFile's local file. Its errors do not carry fs.ErrNotExist, so that a
// missing source is not taken for a missing object.
func openSource(localPath string) (*os.File, error) {
	f, err := os.Open(localPath)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err == nil && !info.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

func (l *Local) put(ctx context.Context, op string, u URL, r io.Reader, opts PutOptions) error {
	if err := ctx.Err(); err != nil {
		return l.fail(op, u, err)
	}
	dst := u.Path
	if opts.IfNotExists {
		if _, err := os.Lstat(dst); err == nil {
			return l.fail(op, u, exists(errors.New("object already exists")))
		}
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return l.fail(op, u, err)
	}
	tmp, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return l.fail(op, u, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // a no-op once renamed
	_, err = io.Copy(tmp, &reader{ctx: ctx, rc: io.NopCloser(r), fail: func(err error) error { return err }})
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return l.fail(op, u, err)
	}
	if !opts.IfNotExists {
		if err := os.Rename(tmpName, dst); err != nil {
			return l.fail(op, u, err)
		}
		return nil
	}
	err = os.Link(tmpName, dst)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist):
		return l.fail(op, u, exists(errors.New("object already exists")))
	}
	// No hard links here (some network and FUSE filesystems): create exclusively and copy.
	if err := createExclusive(tmpName, dst); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return l.fail(op, u, exists(errors.New("object already exists")))
		}
		return l.fail(op, u, err)
	}
	return nil
}

// createExclusive copies src to a new file dst, failing with fs.ErrExist if dst exists.
func createExclusive(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(dst)
	}
	return err
}

// Delete implements Store.
func (l *Local) Delete(ctx context.Context, u URL) error {
	if err := checkLocal(u); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return l.fail("deleting", u, err)
	}
	info, err := os.Lstat(u.Path)
	switch {
	case err != nil && isAbsent(err):
		return nil
	case err != nil:
		return l.fail("deleting", u, err)
	case info.IsDir():
		return nil // a folder is not an object
	}
	if err := os.Remove(u.Path); err != nil && !isAbsent(err) {
		return l.fail("deleting", u, err)
	}
	return nil
}

// reader wraps an object's reader: it stops when ctx is done and wraps and classifies
// read errors other than io.EOF with fail.
type reader struct {
	ctx  context.Context
	rc   io.ReadCloser
	fail func(error) error
}

func (r *reader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, r.fail(err)
	}
	n, err := r.rc.Read(p)
	if err != nil && err != io.EOF {
		err = r.fail(err)
	}
	return n, err
}

func (r *reader) Close() error { return r.rc.Close() }
