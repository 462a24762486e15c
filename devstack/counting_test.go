//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// startDevstackBinary builds aind-devstack, runs it with args and returns the environment
// it printed; it is stopped with SIGTERM at cleanup and must exit cleanly.
func startDevstackBinary(t *testing.T, args ...string) map[string]string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "aind-devstack")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		go func() { exited <- cmd.Wait() }() // stdout is drained by readEnv's reader
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("aind-devstack exited with %v\nstderr:\n%s", err, stderr.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("aind-devstack did not stop within 30s of SIGTERM")
		}
		if strings.Contains(stderr.String(), `"level":"error"`) {
			t.Errorf("error logs on stderr:\n%s", stderr.String())
		}
	})
	env, extra := readEnv(t, stdout, startTimeout(t), &stderr)
	if len(extra) > 0 {
		t.Fatalf("non KEY=VALUE lines on stdout: %q", extra)
	}
	return env
}

// TestCountRequests runs the devstack with --count-requests and checks the counts of a
// known sequence of real requests: S3 through the AWS SDK, Mongo commands through the
// driver, and the DocDB gateway over HTTP; that requests the devstack makes itself (the
// seed, the gateway's queries) are not counted; and that a reset zeroes the counts.
func TestCountRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("starts FerretDB and versitygw")
	}
	env := startDevstackBinary(t, "--count-requests", "--seed", filepath.Join("..", "testdata", "devstack"))
	for _, k := range []string{"DEVSTACK_REQUESTS_URL", "DOCDB_URI", "AWS_ENDPOINT_URL_S3", "DEVSTACK_DOCDB_HOST"} {
		if env[k] == "" {
			t.Fatalf("no %s in %v", k, env)
		}
	}
	ctx := t.Context()
	counts := requestsClient{t: t, url: env["DEVSTACK_REQUESTS_URL"]}
	if got := counts.get(""); !got.empty() {
		t.Fatalf("before any client request (the seed and the bucket are the devstack's own): %+v", got)
	}

	// S3, through the SDK; each TCP connection it opens is counted here too.
	var s3Dials atomic.Int64
	s3c := s3.New(s3.Options{
		BaseEndpoint:     aws.String(env["AWS_ENDPOINT_URL_S3"]),
		Region:           Region,
		Credentials:      credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
		UsePathStyle:     true,
		HTTPClient:       awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) { tr.DialContext = countingDial(&s3Dials) }),
		RetryMaxAttempts: 1,
	})
	bucket := aws.String("aind-analysis")
	put := func(key string, ifNoneMatch bool) error {
		in := &s3.PutObjectInput{Bucket: bucket, Key: aws.String(key), Body: strings.NewReader("body of " + key)}
		if ifNoneMatch {
			in.IfNoneMatch = aws.String("*")
		}
		_, err := s3c.PutObject(ctx, in)
		return err
	}
	must(t, put("h/a.txt", true))
	must(t, put("h/b.txt", false))
	var apiErr smithy.APIError
	if err := put("h/a.txt", true); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "PreconditionFailed" {
		t.Fatalf("second If-None-Match put: %v, want PreconditionFailed", err)
	}
	list, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket, Prefix: aws.String("h/")})
	must(t, err)
	if len(list.Contents) != 2 {
		t.Errorf("listed %d keys, want 2", len(list.Contents))
	}
	var noKey *types.NoSuchKey
	if _, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String("h/missing")}); !errors.As(err, &noKey) {
		t.Fatalf("get of a missing key: %v, want NoSuchKey", err)
	}
	head, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String("h/a.txt")})
	must(t, err)
	if aws.ToInt64(head.ContentLength) != int64(len("body of h/a.txt")) {
		t.Errorf("HeadObject through the front: Content-Length %d", aws.ToInt64(head.ContentLength))
	}
	_, err = s3c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: bucket, Key: aws.String("h/c.txt"), CopySource: aws.String("aind-analysis/h/b.txt")})
	must(t, err)
	mpu, err := s3c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String("h/big")})
	must(t, err)
	part, err := s3c.UploadPart(ctx, &s3.UploadPartInput{Bucket: bucket, Key: aws.String("h/big"), UploadId: mpu.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(bytes.Repeat([]byte("x"), 1000))})
	must(t, err)
	_, err = s3c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: bucket, Key: aws.String("h/big"), UploadId: mpu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: part.ETag, PartNumber: aws.Int32(1)}}}})
	must(t, err)
	_, err = s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: aws.String("h/big")})
	must(t, err)
	_, err = s3c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: bucket, Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("h/a.txt")}, {Key: aws.String("h/b.txt")}}}})
	must(t, err)
	wantS3 := map[string]int64{"PutObject 2xx": 2, "PutObject 4xx": 1, "ListObjectsV2 2xx": 1, "GetObject 4xx": 1,
		"HeadObject 2xx": 1, "CopyObject 2xx": 1, "CreateMultipartUpload 2xx": 1, "UploadPart 2xx": 1,
		"CompleteMultipartUpload 2xx": 1, "DeleteObject 2xx": 1, "DeleteObjects 2xx": 1}

	// Mongo wire, through the driver; its dialer counts the connections it opens.
	var wireDials atomic.Int64
	mc, err := mongo.Connect(options.Client().ApplyURI(env["DOCDB_URI"]).SetDialer(dialerFunc(countingDial(&wireDials))))
	must(t, err)
	defer mc.Disconnect(context.Background())
	coll := mc.Database("counting").Collection("c")
	_, err = coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "one"}})
	must(t, err)
	_, err = coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "two"}})
	must(t, err)
	must(t, coll.FindOne(ctx, bson.D{{Key: "_id", Value: "two"}}).Err())
	must(t, mc.Ping(ctx, nil))
	wantCommands := map[string]int64{"insert": 2, "find": 1}

	// The DocDB gateway; the queries it sends FerretDB are its own, not counted as commands.
	var gwDials atomic.Int64
	hc := &http.Client{Transport: &http.Transport{DialContext: countingDial(&gwDials)}}
	gw := env["DEVSTACK_DOCDB_HOST"] + "/v1/counting/c/"
	gatewayDo(t, hc, http.MethodPost, gw+"insert_one", `{"_id": "three"}`, true, http.StatusOK)
	gatewayDo(t, hc, http.MethodPost, gw+"insert_one", `{"_id": "four"}`, false, http.StatusForbidden)
	gatewayDo(t, hc, http.MethodGet, gw+`find?filter={"_id":"three"}`, "", false, http.StatusOK)
	gatewayDo(t, hc, http.MethodGet, gw+"count_documents", "", false, http.StatusOK)
	gatewayDo(t, hc, http.MethodGet, gw+"nope", "", false, http.StatusNotFound)
	wantGateway := map[string]int64{"insert_one 2xx": 1, "insert_one 4xx": 1, "find 2xx": 1, "count_documents 2xx": 1, "other 4xx": 1}

	got := counts.get("")
	checkCounts(t, "s3 requests", got.S3.Requests, wantS3)
	checkCounts(t, "docdb commands", got.DocDB.Commands, wantCommands)
	checkCounts(t, "gateway requests", got.Gateway.Requests, wantGateway)
	if got.S3.Connections != s3Dials.Load() || got.S3.Connections < 1 {
		t.Errorf("s3 connections = %d, the SDK opened %d", got.S3.Connections, s3Dials.Load())
	}
	if got.DocDB.Connections != wireDials.Load() || got.DocDB.Connections < 2 { // the monitor's and the pool's
		t.Errorf("docdb connections = %d, the driver opened %d", got.DocDB.Connections, wireDials.Load())
	}
	if got.Gateway.Connections != gwDials.Load() || got.Gateway.Connections < 1 {
		t.Errorf("gateway connections = %d, the client opened %d", got.Gateway.Connections, gwDials.Load())
	}
	// Every connection starts with a handshake (hello or isMaster); the ping is ours.
	var handshakes int64
	for name, n := range got.DocDB.Heartbeats {
		if name != "ping" {
			handshakes += n
		}
	}
	if got.DocDB.Heartbeats["ping"] != 1 || handshakes < got.DocDB.Connections {
		t.Errorf("heartbeats = %v for %d connections, want a handshake each and 1 ping", got.DocDB.Heartbeats, got.DocDB.Connections)
	}

	// POST .../reset answers the counts it zeroed; then everything reads zero.
	if reset := counts.post("/reset"); !maps.Equal(reset.S3.Requests, got.S3.Requests) || !maps.Equal(reset.DocDB.Commands, got.DocDB.Commands) {
		t.Errorf("POST /requests/reset answered %+v, want the counts before it %+v", reset, got)
	}
	if after := counts.get(""); !after.empty() || !after.Since.After(got.Since) {
		t.Errorf("after the reset: %+v (since %v before)", after, got.Since)
	}
	// ?reset=1 reads and zeroes in one step.
	must(t, put("h/d.txt", false))
	checkCounts(t, "s3 requests read with ?reset=1", counts.get("?reset=1").S3.Requests, map[string]int64{"PutObject 2xx": 1})
	if after := counts.get(""); len(after.S3.Requests) != 0 {
		t.Errorf("after ?reset=1: %+v", after.S3.Requests)
	}
	// Wrong uses are refused.
	for _, tc := range []struct{ method, suffix string }{{http.MethodPost, ""}, {http.MethodGet, "/reset"}, {http.MethodGet, "?reset=maybe"}} {
		resp, err := http.DefaultClient.Do(mustRequest(t, tc.method, counts.url+tc.suffix, ""))
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode > 499 {
			t.Errorf("%s %s: %s, want a 4xx", tc.method, tc.suffix, resp.Status)
		}
	}
}

// requestsClient reads the devstack's counts endpoint.
type requestsClient struct {
	t   *testing.T
	url string
}

func (c requestsClient) get(suffix string) countsSnapshot {
	return c.do(http.MethodGet, suffix)
}

func (c requestsClient) post(suffix string) countsSnapshot {
	return c.do(http.MethodPost, suffix)
}

func (c requestsClient) do(method, suffix string) countsSnapshot {
	c.t.Helper()
	resp, err := http.DefaultClient.Do(mustRequest(c.t, method, c.url+suffix, ""))
	must(c.t, err)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		c.t.Fatalf("%s %s%s: %s %s", method, c.url, suffix, resp.Status, b)
	}
	var s countsSnapshot
	must(c.t, json.NewDecoder(resp.Body).Decode(&s))
	return s
}

// empty reports whether nothing was counted.
func (s countsSnapshot) empty() bool {
	return s.S3.Connections+s.DocDB.Connections+s.Gateway.Connections == 0 &&
		len(s.S3.Requests)+len(s.DocDB.Commands)+len(s.DocDB.Heartbeats)+len(s.Gateway.Requests) == 0
}

// gatewayDo sends one gateway request, signed (SigV4, execute-api) when sign is set, and
// checks its status.
func gatewayDo(t *testing.T, hc *http.Client, method, url, body string, sign bool, want int) {
	t.Helper()
	req := mustRequest(t, method, url, body)
	if sign {
		sum := sha256.Sum256([]byte(body))
		must(t, v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: AccessKey, SecretAccessKey: SecretKey},
			req, hex.EncodeToString(sum[:]), "execute-api", Region, time.Now()))
	}
	resp, err := hc.Do(req)
	must(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s %s, want %d", method, url, resp.Status, b, want)
	}
}

func mustRequest(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	must(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// countingDial dials TCP and counts each connection opened in n.
func countingDial(n *atomic.Int64) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			n.Add(1)
		}
		return c, err
	}
}

// dialerFunc is a Mongo driver dialer from a function.
type dialerFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// DialContext implements options.ContextDialer.
func (f dialerFunc) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return f(ctx, network, addr)
}

// checkCounts compares counts by kind exactly.
func checkCounts(t *testing.T, what string, got, want map[string]int64) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("%s = %v\nwant %v", what, got, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
