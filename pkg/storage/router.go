package storage

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// Options configures New.
type Options struct {
	// S3 configures the S3 client, built on the first s3:// URL.
	S3 S3Options
}

// Router is the Store the binaries use: it dispatches each call on the URL's scheme, to
// Local for file URLs and to S3 for s3:// URLs. The S3 client is created on first use, so a
// run that only touches local paths needs no AWS configuration; if creating it fails, the
// next s3:// call tries again.
type Router struct {
	opts  Options
	local *Local

	mu sync.Mutex
	s3 *S3
}

var _ Store = (*Router)(nil)

// New returns a Router. It makes no network call and reads no AWS configuration.
func New(ctx context.Context, opts Options) (*Router, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &Router{opts: opts, local: NewLocal()}, nil
}

// S3 returns the S3 store, creating it on first use.
func (r *Router) S3(ctx context.Context) (*S3, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.s3 != nil {
		return r.s3, nil
	}
	s, err := NewS3(ctx, r.opts.S3)
	if err != nil {
		return nil, err
	}
	r.s3 = s
	return s, nil
}

// store returns the backend for u.
func (r *Router) store(ctx context.Context, u URL) (Store, error) {
	switch u.Scheme {
	case SchemeS3:
		return r.S3(ctx)
	case SchemeFile:
		return r.local, nil
	}
	return nil, fault.Permanent(fmt.Errorf("storage: %q: %w", u.String(), errWrongScheme))
}

// List implements Store.
func (r *Router) List(ctx context.Context, prefix URL, fn func(Object) error) error {
	s, err := r.store(ctx, prefix)
	if err != nil {
		return err
	}
	return s.List(ctx, prefix, fn)
}

// Stat implements Store.
func (r *Router) Stat(ctx context.Context, u URL) (Object, error) {
	s, err := r.store(ctx, u)
	if err != nil {
		return Object{}, err
	}
	return s.Stat(ctx, u)
}

// Open implements Store.
func (r *Router) Open(ctx context.Context, u URL) (io.ReadCloser, error) {
	s, err := r.store(ctx, u)
	if err != nil {
		return nil, err
	}
	return s.Open(ctx, u)
}

// Put implements Store.
func (r *Router) Put(ctx context.Context, u URL, rd io.Reader, opts PutOptions) error {
	s, err := r.store(ctx, u)
	if err != nil {
		return err
	}
	return s.Put(ctx, u, rd, opts)
}

// PutFile implements Store.
func (r *Router) PutFile(ctx context.Context, localPath string, u URL, opts PutOptions) error {
	s, err := r.store(ctx, u)
	if err != nil {
		return err
	}
	return s.PutFile(ctx, localPath, u, opts)
}

// Delete implements Store.
func (r *Router) Delete(ctx context.Context, u URL) error {
	s, err := r.store(ctx, u)
	if err != nil {
		return err
	}
	return s.Delete(ctx, u)
}
