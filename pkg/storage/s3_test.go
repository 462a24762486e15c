package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/devstacktest"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// TestMain shares one devstack (versitygw + FerretDB) among the package's tests; it is
// started by the first test that asks for it.
func TestMain(m *testing.M) { os.Exit(devstacktest.Main(m)) }

// isolateAWS keeps the host's AWS configuration out of a test: no shared config or
// credentials files, no IMDS, no ambient endpoint.
func isolateAWS(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, k := range []string{
		"AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_MAX_ATTEMPTS",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN",
	} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
}

// devstackS3 returns an S3 store built by NewS3 from the standard chain, with the
// devstack's environment set, and a fresh bucket.
func devstackS3(t *testing.T, opts S3Options) (*S3, string) {
	t.Helper()
	env := devstacktest.Get(t)
	isolateAWS(t)
	env.Setenv(t)
	s, err := NewS3(t.Context(), opts)
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	return s, env.NewBucket(t)
}

func TestS3Conformance(t *testing.T) {
	// A small part size, so that PutFile's 20 MiB file goes in several concurrent parts.
	s, bucket := devstackS3(t, S3Options{PartSize: MinPartSize, Concurrency: 3})
	t.Run("UnderPrefix", func(t *testing.T) {
		runConformance(t, s, URL{Scheme: SchemeS3, Bucket: bucket, Key: "some/prefix"})
	})
	t.Run("BucketRoot", func(t *testing.T) {
		_, bucket := devstackS3(t, S3Options{PartSize: MinPartSize, Concurrency: 3})
		runConformance(t, s, URL{Scheme: SchemeS3, Bucket: bucket})
	})
}

func TestRouterConformanceS3(t *testing.T) {
	env := devstacktest.Get(t)
	isolateAWS(t)
	env.Setenv(t)
	r, err := New(t.Context(), Options{S3: S3Options{PartSize: MinPartSize}})
	if err != nil {
		t.Fatal(err)
	}
	if r.s3 != nil {
		t.Fatal("New created the S3 client before any s3:// use")
	}
	runConformance(t, r, URL{Scheme: SchemeS3, Bucket: env.NewBucket(t), Key: "routed"})
}

// TestS3ListObjectsFromOtherWriters lists objects written by another client, folder
// markers included.
func TestS3ListObjectsFromOtherWriters(t *testing.T) {
	s, bucket := devstackS3(t, S3Options{})
	env := devstacktest.Get(t)
	env.PutObjects(t, bucket, map[string]string{
		"asset/x.nwb/a.zarr": "a",
		"asset/x.nwb/b":      "bb",
		"asset/y.json":       "{}",
		"asset-other/z":      "z",
		"assets":             "s",
	})
	if _, err := env.S3(t).PutObject(t.Context(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("asset/folder/"), Body: strings.NewReader(""),
	}); err != nil {
		t.Fatalf("putting a folder marker: %v", err)
	}
	var got []string
	err := s.List(t.Context(), URL{Scheme: SchemeS3, Bucket: bucket, Key: "asset"}, func(o Object) error {
		got = append(got, fmt.Sprintf("%s=%d", o.Rel, o.Size))
		if o.ETag == "" {
			t.Errorf("%s: no ETag", o.Rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if g := strings.Join(got, " "); g != "x.nwb/a.zarr=1 x.nwb/b=2 y.json=2" {
		t.Fatalf("List = %q", got)
	}
}

// TestS3IfNoneMatchRaceGuard skips the HeadObject pre-check and checks that the server
// itself refuses to overwrite, on PutObject and on CompleteMultipartUpload: the guard
// against a racing writer.
func TestS3IfNoneMatchRaceGuard(t *testing.T) {
	s, bucket := devstackS3(t, S3Options{PartSize: MinPartSize})
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		size int
	}{
		{name: "PutObject", size: 10},
		{name: "Multipart", size: 2*MinPartSize + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := URL{Scheme: SchemeS3, Bucket: bucket, Key: "race/" + tc.name}
			if err := s.Put(ctx, u, strings.NewReader("original"), PutOptions{}); err != nil {
				t.Fatal(err)
			}
			// Past upload's HeadObject check, as a writer racing in after it.
			send := func(u URL) error {
				r := bytes.NewReader(make([]byte, tc.size))
				if int64(tc.size) >= s.partSize {
					return s.sendLarge(ctx, "writing", u, r, int64(tc.size), PutOptions{IfNotExists: true})
				}
				return s.send(ctx, "writing", u, r, int64(tc.size), PutOptions{IfNotExists: true})
			}
			err := send(u)
			if !IsExists(err) || fault.IsTransient(err) {
				t.Fatalf("conditional %s over an existing object: %v, want IsExists", tc.name, err)
			}
			rc, err := s.Open(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if b, _ := io.ReadAll(rc); string(b) != "original" {
				t.Fatalf("object overwritten: %d bytes", len(b))
			}
			fresh := URL{Scheme: SchemeS3, Bucket: bucket, Key: u.Key + "-fresh"}
			if err := send(fresh); err != nil {
				t.Fatalf("conditional %s of a new object: %v", tc.name, err)
			}
		})
	}
}

// onlyReader hides a reader's Len, so Put does not know the size ahead.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// failingReader gives n bytes, then an error.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk on fire")
	}
	k := min(len(p), f.n)
	f.n -= k
	return k, nil
}

// TestS3MultipartFromReusedBuffers: objects of several parts, of known and unknown size,
// several at once through the store's shared part buffers, arrive whole; one of unknown
// size under a part goes in one PutObject; a source that fails mid-way is a permanent
// error and leaves no object.
func TestS3MultipartFromReusedBuffers(t *testing.T) {
	s, bucket := devstackS3(t, S3Options{PartSize: MinPartSize, Concurrency: 2})
	ctx := t.Context()
	sizes := []int{3*MinPartSize + 17, 2 * MinPartSize, 100, MinPartSize}
	errs := make(chan error, 2*len(sizes))
	for i, n := range sizes {
		for _, known := range []bool{true, false} {
			go func() {
				data := bytes.Repeat([]byte{byte(i + 1), byte(n)}, n/2+1)[:n]
				var r io.Reader = bytes.NewReader(data)
				if !known {
					r = onlyReader{r}
				}
				u := URL{Scheme: SchemeS3, Bucket: bucket, Key: fmt.Sprintf("mp/%d-%v", n, known)}
				if err := s.Put(ctx, u, r, PutOptions{IfNotExists: true}); err != nil {
					errs <- err
					return
				}
				rc, err := s.Open(ctx, u)
				if err != nil {
					errs <- err
					return
				}
				defer rc.Close()
				if got, _ := io.ReadAll(rc); !bytes.Equal(got, data) {
					errs <- fmt.Errorf("%s: %d bytes back, want %d equal ones", u, len(got), n)
					return
				}
				errs <- nil
			}()
		}
	}
	for range 2 * len(sizes) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	u := URL{Scheme: SchemeS3, Bucket: bucket, Key: "mp/failing"}
	err := s.Put(ctx, u, &failingReader{n: 2*MinPartSize + 5}, PutOptions{IfNotExists: true})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") || fault.IsTransient(err) {
		t.Fatalf("failing source: %v, want a permanent error naming it", err)
	}
	if _, err := s.Stat(ctx, u); !IsNotFound(err) {
		t.Fatalf("object after a failed upload: %v", err)
	}
}

func TestS3WrongURL(t *testing.T) {
	s, bucket := devstackS3(t, S3Options{})
	ctx := t.Context()
	if _, err := s.Stat(ctx, MustParse("/local/path")); err == nil || fault.IsTransient(err) {
		t.Fatalf("Stat of a local path on S3: %v", err)
	}
	if err := s.Put(ctx, URL{Scheme: SchemeS3, Bucket: bucket}, strings.NewReader("x"), PutOptions{}); err == nil {
		t.Fatal("Put to a bucket URL without a key succeeded")
	}
	err := s.List(ctx, URL{Scheme: SchemeS3, Bucket: "no-such-bucket-here"}, func(Object) error { return nil })
	if err == nil || IsNotFound(err) || fault.IsTransient(err) {
		t.Fatalf("List of a missing bucket: %v, want permanent, not IsNotFound", err)
	}
}

// testS3 builds an S3 store for an endpoint, with static test credentials from the
// environment (the standard chain) and nothing from the host.
func testS3(t *testing.T, endpoint string, opts S3Options) *S3 {
	t.Helper()
	isolateAWS(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
	opts.Endpoint = endpoint
	s, err := NewS3(t.Context(), opts)
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	return s
}

func TestS3UnreachableIsTransient(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: connection refused
	isolateAWS(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
	t.Setenv("AWS_MAX_ATTEMPTS", "7") // S3Options.MaxAttempts wins
	s, err := NewS3(t.Context(), S3Options{Endpoint: "http://" + addr, MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	u := MustParse("s3://bucket/some/key.json")

	start := time.Now()
	_, err = s.Stat(t.Context(), u)
	if err == nil {
		t.Fatal("Stat against a closed port succeeded")
	}
	if !fault.IsTransient(err) || IsNotFound(err) {
		t.Fatalf("Stat: %v, want transient", err)
	}
	if fault.ExitCode(err) != fault.ExitTransient {
		t.Fatalf("exit code %d, want %d", fault.ExitCode(err), fault.ExitTransient)
	}
	if !strings.HasPrefix(err.Error(), "stat s3://bucket/some/key.json: ") {
		t.Fatalf("error %q does not start with the operation and URL", err)
	}
	var maxErr *retry.MaxAttemptsError
	if !errors.As(err, &maxErr) || maxErr.Attempt != 2 {
		t.Fatalf("error %v: want the SDK's MaxAttemptsError after 2 attempts", err)
	}
	if strings.Contains(err.Error(), "not-a-real-secret") {
		t.Fatal("the error contains the secret key")
	}
	t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)

	err = s.List(t.Context(), u, func(Object) error { return nil })
	if !fault.IsTransient(err) || !strings.HasPrefix(err.Error(), "listing s3://bucket/some/key.json: ") {
		t.Fatalf("List: %v, want transient, naming the URL", err)
	}
}

// fakeS3 is an HTTP server answering every request with status and an S3 error code,
// counting requests. With block set it holds each request until the client goes away.
type fakeS3 struct {
	status int
	code   string
	block  bool

	requests atomic.Int32
	arrived  chan struct{}
	paths    chan string
}

func newFakeS3(t *testing.T, f *fakeS3) *httptest.Server {
	f.arrived = make(chan struct{}, 100)
	f.paths = make(chan string, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		f.paths <- r.Host + r.URL.Path
		f.arrived <- struct{}{}
		if f.block {
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(f.status)
		if r.Method != http.MethodHead {
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>fake</Message></Error>`, f.code)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestS3ErrorClassification(t *testing.T) {
	tests := []struct {
		name         string
		status       int
		code         string
		wantAttempts int32
		transient    bool
		notFound     bool
		exists       bool
	}{
		{name: "503 SlowDown", status: 503, code: "SlowDown", wantAttempts: 2, transient: true},
		{name: "500 InternalError", status: 500, code: "InternalError", wantAttempts: 2, transient: true},
		{name: "403 AccessDenied", status: 403, code: "AccessDenied", wantAttempts: 1},
		{name: "403 InvalidAccessKeyId", status: 403, code: "InvalidAccessKeyId", wantAttempts: 1},
		{name: "400 ExpiredToken", status: 400, code: "ExpiredToken", wantAttempts: 1},
		{name: "404 NoSuchBucket", status: 404, code: "NoSuchBucket", wantAttempts: 1},
		{name: "404 NoSuchKey", status: 404, code: "NoSuchKey", wantAttempts: 1, notFound: true},
		{name: "412 PreconditionFailed", status: 412, code: "PreconditionFailed", wantAttempts: 1, exists: true},
		{name: "409 ConditionalRequestConflict", status: 409, code: "ConditionalRequestConflict", wantAttempts: 1, exists: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeS3{status: tt.status, code: tt.code}
			srv := newFakeS3(t, f)
			s := testS3(t, srv.URL, S3Options{MaxAttempts: 2})
			u := MustParse("s3://bucket/key")
			rc, err := s.Open(t.Context(), u)
			if err == nil {
				rc.Close()
				t.Fatal("Open succeeded")
			}
			if got := f.requests.Load(); got != tt.wantAttempts {
				t.Errorf("%d requests, want %d", got, tt.wantAttempts)
			}
			if fault.IsTransient(err) != tt.transient || IsNotFound(err) != tt.notFound || IsExists(err) != tt.exists {
				t.Errorf("%v: transient %v, not found %v, exists %v", err,
					fault.IsTransient(err), IsNotFound(err), IsExists(err))
			}
			if !strings.HasPrefix(err.Error(), "opening s3://bucket/key: ") {
				t.Errorf("error %q does not start with the operation and URL", err)
			}
		})
	}
}

func TestS3CancelledContextNotRetried(t *testing.T) {
	f := &fakeS3{block: true}
	srv := newFakeS3(t, f)
	s := testS3(t, srv.URL, S3Options{MaxAttempts: 5})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-f.arrived
		cancel()
	}()
	_, err := s.Stat(ctx, MustParse("s3://bucket/key"))
	if err == nil {
		t.Fatal("Stat succeeded")
	}
	if !errors.Is(err, context.Canceled) || fault.IsTransient(err) {
		t.Fatalf("Stat with a context cancelled mid-request: %v, want context.Canceled, not transient", err)
	}
	if fault.ExitCode(err) != fault.ExitInterrupted {
		t.Fatalf("exit code %d, want %d", fault.ExitCode(err), fault.ExitInterrupted)
	}
	time.Sleep(50 * time.Millisecond) // a retry, if any, would have arrived by now
	if got := f.requests.Load(); got != 1 {
		t.Fatalf("%d requests, want 1 (no retry after cancel)", got)
	}
}

func TestS3PathStyle(t *testing.T) {
	f := &fakeS3{status: 404, code: "NoSuchKey"}
	srv := newFakeS3(t, f)
	isolateAWS(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.URL) // endpoint from the standard chain
	s, err := NewS3(t.Context(), S3Options{MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Client().Options().Region; got != DefaultRegion {
		t.Errorf("region %q, want the default %q", got, DefaultRegion)
	}
	if _, err := s.Stat(t.Context(), MustParse("s3://my-bucket/a/b")); !IsNotFound(err) {
		t.Fatalf("Stat: %v", err)
	}
	if got, want := <-f.paths, strings.TrimPrefix(srv.URL, "http://")+"/my-bucket/a/b"; got != want {
		t.Fatalf("request to %q, want path style %q", got, want)
	}
}

func TestNeedsPathStyle(t *testing.T) {
	for _, tt := range []struct {
		endpoint string
		want     bool
	}{
		{"", false},
		{"https://s3.us-west-2.amazonaws.com", false},
		{"https://S3.AMAZONAWS.COM", false},
		{"http://127.0.0.1:7070", true},
		{"http://localhost:9000", true},
		{"https://storage.example.org", true},
		{"https://amazonaws.com.example.org", true},
	} {
		var p *string
		if tt.endpoint != "" {
			p = &tt.endpoint
		}
		if got := needsPathStyle(p); got != tt.want {
			t.Errorf("needsPathStyle(%q) = %v, want %v", tt.endpoint, got, tt.want)
		}
	}
}
