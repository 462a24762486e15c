package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// maxParts is S3's limit on the parts of one multipart upload.
const maxParts = 10000

// partPool hands out an S3 store's part buffers, at most cap(slots) at once, and keeps
// them for the next part and the next upload. The transfer manager allocated a fresh set
// of (Concurrency+1) x PartSize on the heap for every large object and dropped it after:
// with that garbage the collector let the heap grow to twice the buffers, so a 512 MiB
// upload peaked at over 200 MB of RSS. These buffers are mapped outside the Go heap where
// the system allows (allocPart), allocated once per store, and shared by its concurrent
// uploads, which then also share the bound.
type partPool struct {
	size  int
	slots chan []byte // a nil slot is a buffer not allocated yet

	mu     sync.Mutex
	mapped [][]byte // buffers allocPart mapped, unmapped by release
}

func newPartPool(size int64, n int) *partPool {
	p := &partPool{size: int(size), slots: make(chan []byte, n)}
	for range n {
		p.slots <- nil
	}
	return p
}

// get waits for a free buffer.
func (p *partPool) get(ctx context.Context) ([]byte, error) {
	select {
	case b := <-p.slots:
		if b == nil {
			var mapped bool
			if b, mapped = allocPart(p.size); mapped {
				p.mu.Lock()
				p.mapped = append(p.mapped, b)
				p.mu.Unlock()
			}
		}
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// put returns a buffer taken with get.
func (p *partPool) put(b []byte) { p.slots <- b }

// release unmaps the pool's mapped buffers. Nothing may use the pool after.
func (p *partPool) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.mapped {
		freePart(b)
	}
	p.mapped = nil
}

// sendLarge uploads r, of size bytes (-1: unknown), in parts read into the store's reused
// buffers while earlier parts are sent; an object of unknown size that turns out smaller
// than one part goes in one PutObject. With opts.IfNotExists the write is conditional
// (If-None-Match: "*" on PutObject or CompleteMultipartUpload).
func (s *S3) sendLarge(ctx context.Context, op string, u URL, r io.Reader, size int64, opts PutOptions) error {
	pool := s.parts
	if size/s.partSize >= maxParts {
		// Over 10,000 parts of the usual size (about 80 GiB at 8 MiB): larger parts, in
		// buffers of this upload's own, one part in flight at a time.
		pool = newPartPool(size/maxParts+1, 2)
		defer pool.release()
	}
	first, err := pool.get(ctx)
	if err != nil {
		return classify(op, u, err)
	}
	n, eof, err := fill(r, first)
	if err != nil {
		pool.put(first)
		return fault.Permanent(fmt.Errorf("%s %s: %w", op, u, err))
	}
	if eof {
		defer pool.put(first)
		return s.putSmall(ctx, op, u, first[:n], opts)
	}
	create := &s3.CreateMultipartUploadInput{
		Bucket:            aws.String(u.Bucket),
		Key:               aws.String(u.Key),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	}
	if opts.ContentType != "" {
		create.ContentType = aws.String(opts.ContentType)
	}
	out, err := s.client.CreateMultipartUpload(ctx, create)
	if err != nil {
		pool.put(first)
		return classify(op, u, err)
	}
	parts, err := s.sendParts(ctx, pool, u, out.UploadId, r, first, n)
	if err == nil {
		complete := &s3.CompleteMultipartUploadInput{
			Bucket:          aws.String(u.Bucket),
			Key:             aws.String(u.Key),
			UploadId:        out.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		}
		if opts.IfNotExists {
			complete.IfNoneMatch = aws.String("*")
		}
		_, err = s.client.CompleteMultipartUpload(ctx, complete)
	}
	if err != nil {
		// Free the parts stored so far, even when ctx was cancelled.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		_, _ = s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket: aws.String(u.Bucket), Key: aws.String(u.Key), UploadId: out.UploadId,
		})
		cancel()
		var re *readError
		if errors.As(err, &re) {
			return fault.Permanent(fmt.Errorf("%s %s: %w", op, u, re.err))
		}
		return classify(op, u, err)
	}
	return nil
}

// readError is a failure to read the source of an upload (not S3's).
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }

// fill reads r into buf until buf is full or r ends; eof reports that r ended.
func fill(r io.Reader, buf []byte) (n int, eof bool, err error) {
	n, err = io.ReadFull(r, buf)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return n, true, nil
	case err != nil:
		return n, false, fmt.Errorf("reading the source: %w", err)
	}
	return n, false, nil
}

// sendParts sends the first part (n bytes of first) and the rest of r, each part from a
// pool buffer, several at once, and returns the completed parts in order.
func (s *S3) sendParts(ctx context.Context, pool *partPool, u URL, id *string, r io.Reader, first []byte, n int) ([]types.CompletedPart, error) {
	g, gctx := errgroup.WithContext(ctx)
	var (
		mu    sync.Mutex
		parts []types.CompletedPart
	)
	send := func(num int32, buf []byte, n int) {
		g.Go(func() error {
			defer pool.put(buf)
			sum := sha256Base64(buf[:n])
			out, err := s.client.UploadPart(gctx, &s3.UploadPartInput{
				Bucket:            aws.String(u.Bucket),
				Key:               aws.String(u.Key),
				UploadId:          id,
				PartNumber:        aws.Int32(num),
				Body:              bytes.NewReader(buf[:n]),
				ContentLength:     aws.Int64(int64(n)),
				ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
				ChecksumSHA256:    sum,
			})
			if err != nil {
				return err
			}
			mu.Lock()
			parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.ETag, ChecksumSHA256: sum})
			mu.Unlock()
			return nil
		})
	}
	send(1, first, n)
	var readErr error
	for num := int32(2); ; num++ {
		buf, err := pool.get(gctx)
		if err != nil {
			break // a part failed (g.Wait has its error), or ctx was cancelled
		}
		n, eof, err := fill(r, buf)
		switch {
		case err != nil:
			readErr = &readError{err}
		case n > 0 && num > maxParts:
			readErr = &readError{fmt.Errorf("more than %d parts of %d bytes: the source grew while it was uploaded", maxParts, len(buf))}
		case n > 0:
			send(num, buf, n)
			buf = nil
		}
		if buf != nil {
			pool.put(buf)
		}
		if readErr != nil || eof {
			break
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if readErr != nil {
		return nil, readErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sort.Slice(parts, func(i, j int) bool { return *parts[i].PartNumber < *parts[j].PartNumber })
	return parts, nil
}

// putSmall uploads data in one PutObject with its SHA-256 (x-amz-checksum-sha256): S3
// refuses a body that does not match it and keeps it with the object (Stat's SHA256).
func (s *S3) putSmall(ctx context.Context, op string, u URL, data []byte, opts PutOptions) error {
	in := &s3.PutObjectInput{
		Bucket:            aws.String(u.Bucket),
		Key:               aws.String(u.Key),
		Body:              bytes.NewReader(data),
		ContentLength:     aws.Int64(int64(len(data))),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    sha256Base64(data),
	}
	if opts.ContentType != "" {
		in.ContentType = aws.String(opts.ContentType)
	}
	if opts.IfNotExists {
		in.IfNoneMatch = aws.String("*")
	}
	if _, err := s.client.PutObject(ctx, in); err != nil {
		return classify(op, u, err)
	}
	return nil
}

// sha256Base64 is the SHA-256 of data as S3's checksum headers carry it (base64).
func sha256Base64(data []byte) *string {
	sum := sha256.Sum256(data)
	return aws.String(base64.StdEncoding.EncodeToString(sum[:]))
}
