package main

// s3front.go is the S3 front of --count-requests: a reverse proxy (net/http/httputil) on
// the S3 port clients are given, in front of versitygw, that counts each request by S3
// operation and status class, and the connections it accepts. A TCP-level front cannot
// name operations or statuses without re-implementing HTTP framing; versitygw v1.8.0's
// own access log (--access-log) names them but not connections, and its lines cannot be
// split reliably (object keys and user agents hold spaces), so a front was needed anyway.
//
// The front keeps clients' connections open, as S3 does; versitygw, which closes each
// connection after one answer by default, runs with --keep-alive behind it, so the front
// reuses its connections to versitygw too.

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// s3Front is the running counting proxy.
type s3Front struct {
	srv       *http.Server
	transport *http.Transport // to versitygw
	addr      string          // 127.0.0.1:PORT clients use
}

// startS3Front listens on 127.0.0.1:port (0: a free port) and forwards to backend
// (http://host:port, versitygw), counting into counts.
func startS3Front(log zerolog.Logger, counts *requestCounts, port int, backend string) (*s3Front, error) {
	target, err := url.Parse(backend)
	if err != nil {
		return nil, fmt.Errorf("S3 front: backend %q: %w", backend, err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("S3 front: listen: %w", err)
	}
	log = log.With().Str("component", "s3-front").Logger()
	errLog := stdlog.New(log.Level(zerolog.WarnLevel), "", 0)
	transport := &http.Transport{
		Proxy:               nil, // loopback: never through $HTTP_PROXY
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // pass the client's Accept-Encoding through, add none
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// The client signed its Host header (SigV4); versitygw checks it.
			pr.Out.Host = pr.In.Host
			// This server has answered "100 Continue" already when the body was read;
			// without Expect versitygw does not send a second one. Clients do not sign
			// Expect (aws-sdk-go-v2 and botocore leave it out of SigV4).
			pr.Out.Header.Del("Expect")
		},
		Transport: transport,
		ModifyResponse: func(resp *http.Response) error {
			counts.s3Request(s3Operation(resp.Request), resp.StatusCode)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			status := http.StatusBadGateway
			if errors.Is(err, context.Canceled) {
				status = 499 // nginx's "client closed request"; nobody reads it
			}
			counts.s3Request(s3Operation(r), status)
			log.Warn().Err(err).Str("method", r.Method).Str("path", r.URL.Path).Msg("S3 front: versitygw did not answer")
			w.WriteHeader(status)
		},
		ErrorLog: errLog,
	}
	f := &s3Front{addr: l.Addr().String(), transport: transport}
	f.srv = &http.Server{
		Handler:           rp,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          errLog,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				counts.s3Conn()
			}
		},
	}
	go func() {
		if err := f.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("S3 front stopped")
		}
	}()
	log.Info().Str("addr", f.addr).Str("backend", backend).Msg("S3 front started")
	return f, nil
}

// stop closes the listener and every connection, the clients' and versitygw's.
func (f *s3Front) stop() error {
	err := f.srv.Close()
	f.transport.CloseIdleConnections()
	return err
}

// s3Operation names the S3 API operation of a path-style request (the names of the
// Amazon S3 API Reference, https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html),
// from its method, whether it names a bucket or an object, its subresource query keys
// and the x-amz-copy-source header. Operations the table does not know are "other".
func s3Operation(r *http.Request) string {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	q := r.URL.Query()
	has := func(k string) bool { _, ok := q[k]; return ok }
	copySource := r.Header.Get("X-Amz-Copy-Source") != ""
	switch {
	case bucket == "":
		if r.Method == http.MethodGet {
			return "ListBuckets"
		}
	case key != "":
		return s3ObjectOperation(r.Method, has, copySource)
	default:
		return s3BucketOperation(r.Method, q, has)
	}
	return "other"
}

// s3ObjectOperation names an operation on an object.
func s3ObjectOperation(method string, has func(string) bool, copySource bool) string {
	switch method {
	case http.MethodGet:
		return firstSubresource(has, "GetObject", "uploadId", "ListParts", "tagging", "GetObjectTagging",
			"acl", "GetObjectAcl", "attributes", "GetObjectAttributes", "retention", "GetObjectRetention",
			"legal-hold", "GetObjectLegalHold")
	case http.MethodHead:
		return "HeadObject"
	case http.MethodPut:
		if has("uploadId") {
			if copySource {
				return "UploadPartCopy"
			}
			return "UploadPart"
		}
		put := "PutObject"
		if copySource {
			put = "CopyObject"
		}
		return firstSubresource(has, put, "tagging", "PutObjectTagging", "acl", "PutObjectAcl",
			"retention", "PutObjectRetention", "legal-hold", "PutObjectLegalHold")
	case http.MethodPost:
		return firstSubresource(has, "other", "uploads", "CreateMultipartUpload", "uploadId", "CompleteMultipartUpload",
			"restore", "RestoreObject", "select", "SelectObjectContent")
	case http.MethodDelete:
		return firstSubresource(has, "DeleteObject", "uploadId", "AbortMultipartUpload", "tagging", "DeleteObjectTagging")
	}
	return "other"
}

// listObjectsParams are the query parameters of ListObjects (v1) and the x-id the Go SDK
// adds to every request; any other key is a bucket subresource.
var listObjectsParams = map[string]bool{"prefix": true, "delimiter": true, "marker": true, "max-keys": true,
	"encoding-type": true, "x-id": true}

// s3BucketOperation names an operation on a bucket.
func s3BucketOperation(method string, q url.Values, has func(string) bool) string {
	plain := true // no subresource: only listing parameters, if any
	for k := range q {
		if !listObjectsParams[k] {
			plain = false
		}
	}
	switch method {
	case http.MethodGet:
		if q.Get("list-type") == "2" {
			return "ListObjectsV2"
		}
		if plain {
			return "ListObjects"
		}
		return firstSubresource(has, "other", "uploads", "ListMultipartUploads", "versions", "ListObjectVersions",
			"location", "GetBucketLocation", "acl", "GetBucketAcl", "policy", "GetBucketPolicy",
			"tagging", "GetBucketTagging", "versioning", "GetBucketVersioning")
	case http.MethodHead:
		return "HeadBucket"
	case http.MethodPut:
		if plain {
			return "CreateBucket"
		}
		return firstSubresource(has, "other", "acl", "PutBucketAcl", "policy", "PutBucketPolicy",
			"tagging", "PutBucketTagging", "versioning", "PutBucketVersioning")
	case http.MethodPost:
		return firstSubresource(has, "other", "delete", "DeleteObjects")
	case http.MethodDelete:
		if plain {
			return "DeleteBucket"
		}
		return firstSubresource(has, "other", "policy", "DeleteBucketPolicy", "tagging", "DeleteBucketTagging")
	}
	return "other"
}

// firstSubresource returns the operation of the first (key, operation) pair in pairs whose
// key the query has, else def.
func firstSubresource(has func(string) bool, def string, pairs ...string) string {
	for i := 0; i+1 < len(pairs); i += 2 {
		if has(pairs[i]) {
			return pairs[i+1]
		}
	}
	return def
}
