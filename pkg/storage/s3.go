package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"runtime"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// Defaults of S3Options.
const (
	// DefaultRegion is the region used when neither S3Options nor the standard chain
	// names one.
	DefaultRegion = "us-east-1"
	// DefaultMaxAttempts is the number of attempts per S3 request, the first included.
	DefaultMaxAttempts = 5
	// DefaultPartSize is the multipart part size of uploads.
	DefaultPartSize = 8 << 20
	// DefaultConcurrency is the number of parts sent at once (per store, over all its
	// uploads).
	DefaultConcurrency = 3
	// MinPartSize is S3's smallest part size (the last part excepted).
	MinPartSize = 5 << 20
	// MaxIdleConnsPerHost is how many idle connections to one S3 endpoint are kept for
	// reuse. The SDK's default (10) is below the dispatcher's listing concurrency and the
	// wrapper's upload concurrency: every request beyond it opened a new connection (a TLS
	// handshake on real S3) and closed it after.
	MaxIdleConnsPerHost = 512
)

// S3Options configures NewS3. The zero value is ready to use: credentials, region and
// endpoint come from the standard AWS chain (environment, shared config, IMDS), which
// honours AWS_ENDPOINT_URL_S3.
type S3Options struct {
	// Region overrides the region from the standard chain. When neither names one,
	// DefaultRegion is used.
	Region string
	// Endpoint overrides the S3 endpoint (AWS_ENDPOINT_URL_S3 and config files),
	// e.g. "http://127.0.0.1:7070".
	Endpoint string
	// PathStyle forces path-style addressing (http://host/bucket/key). It is also used,
	// without this flag, whenever the endpoint is overridden to a host that is not
	// *.amazonaws.com (versitygw, MinIO and other S3-compatible servers).
	PathStyle bool
	// MaxAttempts bounds the attempts per request, the first included (default
	// DefaultMaxAttempts). Connection errors, 5xx and throttling are retried with
	// exponential backoff and jitter; a cancelled context never is.
	MaxAttempts int
	// PartSize is the part size of multipart uploads (default DefaultPartSize, at
	// least MinPartSize). Objects of at least PartSize bytes are uploaded in parts.
	PartSize int64
	// Concurrency is the number of parts sent at once, over all the store's uploads
	// (default DefaultConcurrency). The store buffers up to (Concurrency+1) x PartSize
	// bytes, allocated on first use and reused by every later upload.
	Concurrency int
}

// S3 is the Store over Amazon S3 and S3-compatible servers, built on aws-sdk-go-v2.
//
// Put and PutFile send an object smaller than S3Options.PartSize in one PutObject, read
// into memory first, a larger one in concurrent multipart parts read into buffers the store
// allocates once and reuses (see partPool).
//
// Checksums: every PutObject carries the SHA-256 of its body (x-amz-checksum-sha256,
// computed from the bytes in memory before they are sent) and every part of a multipart
// upload its own (the upload is created with ChecksumAlgorithm SHA256), so S3 refuses a
// body changed on the way (BadDigest, classified transient: a retry sends it again) and
// keeps the checksum with the object. No other checksum is sent: the SDK adds its default
// (CRC32) only when the request has none. Stat reads the whole-object SHA-256 back
// (Object.SHA256); a multipart object has only a composite one, of its parts.
// IfNotExists sends If-None-Match: "*" (on PutObject, or on CompleteMultipartUpload). A
// multipart upload (or one of unknown size) first checks with HeadObject that no object is
// there, so that a large upload is not sent only to be refused; a single PutObject does
// not, since the server refuses it as cheaply as it answers a HeadObject, and the extra
// round trip doubled the cost of publishing many small files. So a server that ignores
// If-None-Match still refuses a large object present before the upload starts, but not a
// small one, nor one written by a racing writer between that check and the end of the
// upload. (AWS S3, versitygw and MinIO honour If-None-Match.)
//
// Put knows the size of the upload ahead when r is an *os.File or has a Len() int method
// returning the bytes left to read (bytes.Reader, strings.Reader, bytes.Buffer); other
// readers count as unknown size, and get the HeadObject check.
type S3 struct {
	client   *s3.Client
	partSize int64
	parts    *partPool // part buffers of multipart uploads
}

var _ Store = (*S3)(nil)

// NewS3 builds the S3 client from the standard AWS chain (config.LoadDefaultConfig) and
// opts. It makes no request: bad credentials show up on first use. A broken shared config
// is a usage error (fault.Usage).
func NewS3(ctx context.Context, opts S3Options) (*S3, error) {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.PartSize <= 0 {
		opts.PartSize = DefaultPartSize
	}
	opts.PartSize = max(opts.PartSize, MinPartSize)
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	var loadOpts []func(*config.LoadOptions) error
	if opts.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(opts.Region))
	}
	loadOpts = append(loadOpts, config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = MaxIdleConnsPerHost
		t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	})))
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fault.Usage(fmt.Errorf("loading AWS configuration: %w", err))
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
		o.UsePathStyle = opts.PathStyle || needsPathStyle(o.BaseEndpoint)
		// Objects uploaded in parts have no whole-object checksum to validate; the SDK
		// would warn about it on stderr at every download of one.
		o.DisableLogOutputChecksumValidationSkipped = true
		o.Retryer = retry.NewStandard(func(r *retry.StandardOptions) {
			r.MaxAttempts = opts.MaxAttempts
			// No client-side retry quota: every request gets its bounded attempts,
			// even when many fail at once (an outage during a concurrent listing).
			r.RateLimiter = ratelimit.None
		})
		o.RetryMaxAttempts = 0 // AWS_MAX_ATTEMPTS must not override MaxAttempts
	})
	s := &S3{client: client, partSize: opts.PartSize, parts: newPartPool(opts.PartSize, opts.Concurrency+1)}
	runtime.AddCleanup(s, func(p *partPool) { p.release() }, s.parts)
	return s, nil
}

// needsPathStyle reports whether an endpoint override points at a server that is not AWS,
// which is most likely to serve buckets only by path.
func needsPathStyle(endpoint *string) bool {
	if endpoint == nil || *endpoint == "" {
		return false
	}
	u, err := url.Parse(*endpoint)
	if err != nil {
		return true
	}
	host := strings.ToLower(u.Hostname())
	return host != "amazonaws.com" && !strings.HasSuffix(host, ".amazonaws.com")
}

// Client returns the underlying SDK client, for the few calls Store does not cover.
func (s *S3) Client() *s3.Client { return s.client }

func checkS3(u URL) error {
	if u.Scheme != SchemeS3 || u.Bucket == "" {
		return fault.Permanent(fmt.Errorf("s3 store: %q: %w", u.String(), errWrongScheme))
	}
	return nil
}

// List implements Store.
func (s *S3) List(ctx context.Context, prefix URL, fn func(Object) error) error {
	if err := checkS3(prefix); err != nil {
		return err
	}
	dir := prefix.dirPrefix()
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(prefix.Bucket),
		Prefix: aws.String(dir),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return classify("listing", prefix, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if !strings.HasPrefix(key, dir) || strings.HasSuffix(key, "/") {
				continue // folder markers ("a/b/"), and anything the server got wrong
			}
			obj := Object{
				URL:     URL{Scheme: SchemeS3, Bucket: prefix.Bucket, Key: key},
				Rel:     strings.TrimPrefix(key, dir),
				Size:    aws.ToInt64(o.Size),
				ModTime: aws.ToTime(o.LastModified),
				ETag:    strings.Trim(aws.ToString(o.ETag), `"`),
			}
			if err := fn(obj); err != nil {
				return err
			}
		}
	}
	return nil
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, u URL) (Object, error) {
	if err := checkObject(u); err != nil {
		return Object{}, err
	}
	// Checksum mode costs nothing more: the checksums come back as headers of the same
	// HeadObject.
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket:       aws.String(u.Bucket),
		Key:          aws.String(u.Key),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		return Object{}, classify("stat", u, err)
	}
	return Object{
		URL:     u,
		Rel:     path.Base(u.Key),
		Size:    aws.ToInt64(out.ContentLength),
		ModTime: aws.ToTime(out.LastModified),
		ETag:    strings.Trim(aws.ToString(out.ETag), `"`),
		SHA256:  wholeSHA256(aws.ToString(out.ChecksumSHA256), out.ChecksumType),
	}, nil
}

// wholeSHA256 turns S3's x-amz-checksum-sha256 (base64) into lowercase hex when it is the
// SHA-256 of the whole object's bytes; "" for none, for a composite checksum of a
// multipart upload (of its parts' checksums, "<base64>-<parts>", type COMPOSITE) and for
// anything that does not decode to 32 bytes.
func wholeSHA256(b64 string, typ types.ChecksumType) string {
	if b64 == "" || typ == types.ChecksumTypeComposite || strings.Contains(b64, "-") {
		return ""
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) != sha256.Size {
		return ""
	}
	return hex.EncodeToString(b)
}

// checkObject checks that u can name an object: an s3 URL with a key.
func checkObject(u URL) error {
	if err := checkS3(u); err != nil {
		return err
	}
	if u.Key == "" {
		return fault.Permanent(fmt.Errorf("s3 store: %s: a bucket is not an object", u))
	}
	return nil
}

// Open implements Store.
func (s *S3) Open(ctx context.Context, u URL) (io.ReadCloser, error) {
	if err := checkObject(u); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(u.Bucket),
		Key:    aws.String(u.Key),
	})
	if err != nil {
		return nil, classify("opening", u, err)
	}
	return &reader{ctx: ctx, rc: out.Body, fail: func(err error) error { return classify("reading", u, err) }}, nil
}

// Put implements Store.
func (s *S3) Put(ctx context.Context, u URL, r io.Reader, opts PutOptions) error {
	if err := checkObject(u); err != nil {
		return err
	}
	return s.upload(ctx, "writing", u, r, opts)
}

// PutFile implements Store.
func (s *S3) PutFile(ctx context.Context, localPath string, u URL, opts PutOptions) error {
	if err := checkObject(u); err != nil {
		return err
	}
	f, err := openSource(localPath)
	if err != nil {
		return fault.Permanent(fmt.Errorf("uploading %s to %s: %v", localPath, u, err))
	}
	defer f.Close()
	return s.upload(ctx, "uploading "+localPath+" to", u, f, opts)
}

func (s *S3) upload(ctx context.Context, op string, u URL, r io.Reader, opts PutOptions) error {
	size := readerLen(r)
	// Objects of at least partSize bytes (or of unknown size) go up in parts.
	if opts.IfNotExists && (size < 0 || size >= s.partSize) {
		_, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
			Bucket: aws.String(u.Bucket),
			Key:    aws.String(u.Key),
		})
		switch {
		case err == nil:
			return fault.Permanent(fmt.Errorf("%s %s: %w", op, u, exists(errors.New("object already exists"))))
		case !isNotFoundAPI(err):
			return classify(op, u, err)
		}
	}
	if size < 0 || size >= s.partSize {
		return s.sendLarge(ctx, op, u, r, size, opts)
	}
	return s.send(ctx, op, u, r, size, opts)
}

// send uploads r, of size bytes (less than a part), in one PutObject. The body is read
// into memory first (as the SDK's transfer manager did), so that its SHA-256 is known
// before it is sent (putSmall). Should r hold more than size bytes (a file that grew), all
// of it is sent, as a body of unknown size (sendLarge).
func (s *S3) send(ctx context.Context, op string, u URL, r io.Reader, size int64, opts PutOptions) error {
	buf := make([]byte, size+1) // a byte more, to see that r ends where it said
	n, eof, err := fill(r, buf)
	if err != nil {
		return fault.Permanent(fmt.Errorf("%s %s: %w", op, u, err))
	}
	if !eof {
		return s.sendLarge(ctx, op, u, io.MultiReader(bytes.NewReader(buf), r), -1, opts)
	}
	return s.putSmall(ctx, op, u, buf[:n], opts)
}

// readerLen returns the number of bytes left in r, or -1 when that is not known ahead.
func readerLen(r io.Reader) int64 {
	switch v := r.(type) {
	case *os.File:
		info, err := v.Stat()
		if err != nil || !info.Mode().IsRegular() {
			return -1
		}
		off, err := v.Seek(0, io.SeekCurrent)
		if err != nil {
			return -1
		}
		return max(info.Size()-off, 0)
	case interface{ Len() int }:
		return int64(v.Len())
	}
	return -1
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, u URL) error {
	if err := checkObject(u); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket: aws.String(u.Bucket),
		Key:    aws.String(u.Key),
	})
	if err != nil && !isNotFoundAPI(err) {
		return classify("deleting", u, err)
	}
	return nil
}
