// Package storage owns object storage: one URL type (s3://bucket/key, file:///abs/path or a
// plain local path) and one Store contract to list, stat, read, write and delete objects,
// with three implementations: S3 (aws-sdk-go-v2, the standard
// credential chain, AWS_ENDPOINT_URL_S3), Local (the filesystem twin, for tests and local
// runs) and Router, which dispatches on the URL scheme and builds the S3 client only when an
// s3:// URL is first used.
//
// Errors are classified here, once: every error a Store returns is wrapped with the
// operation and URL ("listing s3://b/k: ...") and marked with fault.Transient (S3 unreachable,
// 5xx or throttling after bounded retries) or fault.Permanent (everything else), except a
// cancelled context, which is left unclassified so that errors.Is(err, context.Canceled)
// holds and the exit code is "interrupted". Callers ask IsNotFound, IsExists and
// fault.IsTransient; they never inspect SDK errors.
package storage

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"time"
)

// Object is one stored object found by List or Stat.
type Object struct {
	// URL locates the object.
	URL URL
	// Rel is the object's path relative to the listed prefix, slash-separated ("a/b.txt").
	// Stat, which has no prefix, sets it to the object's base name.
	Rel string
	// Size is the object's size in bytes.
	Size int64
	// ModTime is the object's last modification time.
	ModTime time.Time
	// ETag is the S3 entity tag without quotes (S3 only; "" for local files). For a
	// multipart upload it is not the MD5 of the content.
	ETag string
	// SHA256 is the lowercase hex SHA-256 of the object's bytes as the store recorded it
	// when the object was written, so that a caller can check content without reading it;
	// "" when the store gives none. Only S3's Stat fills it: from the object's
	// x-amz-checksum-sha256 (HeadObject with checksum mode), which S3 verified against the
	// body at upload, for an object written in one PutObject with a SHA-256 checksum (S3
	// Put and PutFile send one). List never has it (ListObjectsV2 returns no checksums); an
	// object uploaded in parts has only a composite checksum, a hash of its parts' hashes
	// ("...-N"), which is not the content's, so "" too; Local records no checksum and
	// leaves it "" (reading the file is the only way to hash it there, which the caller
	// can do as well with Open).
	SHA256 string
}

// PutOptions tunes Put and PutFile.
type PutOptions struct {
	// IfNotExists makes the write fail, with IsExists(err) true, when an object is already
	// at the URL; the existing object is kept unchanged.
	IfNotExists bool
	// ContentType is the object's media type (S3 only; "" leaves the server's default).
	ContentType string
}

// Store is the contract every backend satisfies; the conformance suite in this package's
// tests checks it against Local and a real S3 server.
//
// URLs are objects, not folders: a prefix lists the objects below it, and Stat or Open of a
// "folder" (a prefix with objects under it, or a local directory) is not found.
//
// Errors: every error is wrapped with the operation and URL and classified once with
// fault.Transient or fault.Permanent. IsNotFound(err) means the object is absent (Stat,
// Open); IsExists(err) means a write with IfNotExists found an object in place. A cancelled
// context is returned as such (errors.Is(err, context.Canceled)), is never retried and is
// never transient. Implementations of this interface outside the package (fakes in tests)
// signal not found and exists with fs.ErrNotExist and fs.ErrExist in the error chain.
//
// Idempotency: List, Stat, Open and Delete are idempotent and safe to retry. Put and
// PutFile without IfNotExists are idempotent (the last write wins); with IfNotExists a retry
// after an unknown outcome may report IsExists for the caller's own earlier write, so a
// caller that must know compares the content (Stat's size, or its own manifest).
//
// All methods are safe for concurrent use.
type Store interface {
	// List calls fn for every object under prefix, recursively, treating prefix as a
	// folder: prefix s3://b/a lists the keys "a/...", never "ab..." nor "a" itself; an
	// S3 prefix with an empty key lists the whole bucket. Objects come in lexical
	// (byte-wise) order of their key or slash-separated path, the same order on every
	// backend. A prefix with nothing under it (or that does not exist) lists nothing and
	// is not an error. If fn returns an error, listing stops and List returns that error
	// unwrapped. S3 "folder marker" keys ending in "/" are skipped.
	List(ctx context.Context, prefix URL, fn func(Object) error) error

	// Stat returns the object at u; IsNotFound(err) when there is none.
	Stat(ctx context.Context, u URL) (Object, error)

	// Open returns a reader of the object at u; IsNotFound(err) when there is none. The
	// caller must close it. Read errors are wrapped and classified like the others.
	Open(ctx context.Context, u URL) (io.ReadCloser, error)

	// Put writes the object at u from r, creating parent folders as needed. Readers see
	// either the old object or the whole new one, never a partial write. With
	// opts.IfNotExists the write fails with IsExists(err) when an object is already at u,
	// and the existing object is kept.
	Put(ctx context.Context, u URL, r io.Reader, opts PutOptions) error

	// PutFile writes the object at u from the local file at localPath: Put for large
	// files (S3 uploads it in concurrent multipart parts). A missing or unreadable
	// localPath is a permanent error that is not IsNotFound.
	PutFile(ctx context.Context, localPath string, u URL, opts PutOptions) error

	// Delete removes the object at u. It is idempotent: deleting an absent object is not
	// an error.
	Delete(ctx context.Context, u URL) error
}

// IsNotFound reports whether err means the object is absent.
func IsNotFound(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// IsExists reports whether err means a write with IfNotExists found an object in place.
func IsExists(err error) bool { return errors.Is(err, fs.ErrExist) }

// statusError adds a sentinel (fs.ErrNotExist, fs.ErrExist) to an error's chain without
// changing its message, so errors.As still finds the cause.
type statusError struct {
	status error
	err    error
}

func (e *statusError) Error() string   { return e.err.Error() }
func (e *statusError) Unwrap() []error { return []error{e.status, e.err} }

// notFound marks err as "object absent".
func notFound(err error) error { return &statusError{status: fs.ErrNotExist, err: err} }

// exists marks err as "object already present".
func exists(err error) error { return &statusError{status: fs.ErrExist, err: err} }

// errWrongScheme is returned when a backend is given a URL of another backend.
var errWrongScheme = errors.New("unsupported URL scheme for this store")
