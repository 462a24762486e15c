//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns the contents.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startTimeout is how long the test waits for DEVSTACK_READY=1; a cold
// versitygw install compiles for minutes. $AIND_DEVSTACK_START_TIMEOUT overrides.
func startTimeout(t *testing.T) time.Duration {
	if s := os.Getenv("AIND_DEVSTACK_START_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("AIND_DEVSTACK_START_TIMEOUT: %v", err)
		}
		return d
	}
	return 8 * time.Minute
}

// TestDevstackEndToEnd builds aind-devstack, starts it seeded from
// ../testdata/devstack, uses both servers, stops it with SIGTERM and checks
// nothing is left behind.
func TestDevstackEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts FerretDB and versitygw")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "aind-devstack")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	envFile := filepath.Join(tmp, "devstack.env")
	cmd := exec.Command(bin, "--seed", filepath.Join("..", "testdata", "devstack"), "--env-file", envFile)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var waitOnce sync.Once
	wait := func() <-chan error {
		waitOnce.Do(func() { go func() { exited <- cmd.Wait() }() })
		return exited
	}
	t.Cleanup(func() { // on failure: stop it gently first so it removes its temporary data dir
		if cmd.ProcessState != nil {
			return
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-wait():
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-wait()
		}
	})

	env, extra := readEnv(t, stdout, startTimeout(t), &stderr)
	t.Logf("devstack ready after %s", time.Since(started).Round(time.Millisecond))

	wantKeys := []string{"DOCDB_URI", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_REGION", "ANALYSIS_BUCKET", "DEVSTACK_DATA_DIR", "DEVSTACK_PID", "DEVSTACK_DOCDB_HOST", "DEVSTACK_DOCDB_VERSION"}
	var gotKeys []string
	for k := range env {
		gotKeys = append(gotKeys, k)
	}
	slices.Sort(gotKeys)
	slices.Sort(wantKeys)
	if !slices.Equal(gotKeys, wantKeys) || len(extra) > 0 {
		t.Fatalf("stdout keys = %v (non KEY=VALUE lines: %q), want exactly %v", gotKeys, extra, wantKeys)
	}
	if env["DEVSTACK_PID"] != strconv.Itoa(cmd.Process.Pid) {
		t.Errorf("DEVSTACK_PID = %s, want %d", env["DEVSTACK_PID"], cmd.Process.Pid)
	}
	if env["ANALYSIS_BUCKET"] != "s3://aind-analysis" || env["AWS_REGION"] != "us-east-1" {
		t.Errorf("unexpected env %v", env)
	}
	envText, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatalf("env file: %v", err)
	}
	if !strings.Contains(string(envText), "export DOCDB_URI="+env["DOCDB_URI"]+"\n") {
		t.Errorf("env file lacks DOCDB_URI:\n%s", envText)
	}

	ctx := t.Context()

	// A seeded DocDB record, read through the v2 driver. The client stays
	// connected across the shutdown below on purpose.
	client, err := mongo.Connect(options.Client().ApplyURI(env["DOCDB_URI"]))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	assets := client.Database("metadata_index").Collection("data_assets")
	var rec struct {
		Name    string `bson:"name"`
		Subject struct {
			SubjectID *string `bson:"subject_id"`
		} `bson:"subject"`
	}
	if err := assets.FindOne(ctx, bson.D{{Key: "_id", Value: "6465e1bd-58f9-41de-8afe-6d54fe44d828"}}).Decode(&rec); err != nil {
		t.Fatalf("find seeded record: %v\n%s", err, stderr.String())
	}
	if rec.Name != "behavior_774659_2025-06-07_14-31-15_processed_2025-06-08_03-49-49" || rec.Subject.SubjectID == nil || *rec.Subject.SubjectID != "774659" {
		t.Errorf("seeded record = %+v", rec)
	}
	if n, err := assets.CountDocuments(ctx, bson.D{}); err != nil || n != 12 {
		t.Errorf("CountDocuments = %d, %v; want 12", n, err)
	}

	// A seeded object and the analysis bucket, through S3.
	s3c := newS3Client(env["AWS_ENDPOINT_URL_S3"])
	key := "behavior_774659_2025-06-07_14-31-15_processed_2025-06-08_03-49-49/nwb/behavior_774659_2025-06-07_14-31-15.nwb"
	obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("aind-open-data-devstack"), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get seeded object: %v", err)
	}
	body, err := io.ReadAll(obj.Body)
	obj.Body.Close()
	want, _ := os.ReadFile(filepath.Join("..", "testdata", "devstack", "s3", "aind-open-data-devstack", filepath.FromSlash(key)))
	if err != nil || !bytes.Equal(body, want) || len(want) == 0 {
		t.Errorf("seeded object body = %q, %v; want %q", body, err, want)
	}
	zarrKey := "behavior_816886_2025-07-01_10-12-03_processed_2025-07-02_04-00-12/nwb/behavior_816886_2025-07-01_10-12-03.nwb/acquisition/.zgroup"
	if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("aind-open-data-devstack"), Key: aws.String(zarrKey)}); err != nil {
		t.Errorf("head zarr object: %v", err)
	}
	if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("aind-analysis")}); err != nil {
		t.Errorf("head analysis bucket: %v", err)
	}

	gwPid := childPid(t, cmd.Process.Pid, "versitygw")
	dataDir := env["DEVSTACK_DATA_DIR"]

	// Shut down with SIGTERM; expect a clean exit and nothing left behind.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-wait():
		if err != nil {
			t.Fatalf("aind-devstack exited with %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("aind-devstack did not exit within 30s of SIGTERM\nstderr:\n%s", stderr.String())
	}
	deadline := time.Now().Add(10 * time.Second)
	for processExists(gwPid) {
		if time.Now().After(deadline) {
			t.Fatalf("versitygw (pid %d) still running after aind-devstack exited", gwPid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, key := range []string{"DOCDB_URI", "AWS_ENDPOINT_URL_S3"} {
		u, err := url.Parse(env[key])
		if err != nil {
			t.Fatal(err)
		}
		if conn, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
			conn.Close()
			t.Errorf("%s (%s) still accepts connections after shutdown", key, u.Host)
		} else if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("%s (%s): dial error %v, want connection refused", key, u.Host, err)
		}
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary data dir %s not removed (stat: %v)", dataDir, err)
	}
	if _, err := os.Stat(envFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("env file %s not removed (stat: %v)", envFile, err)
	}
	if strings.Contains(stderr.String(), `"level":"error"`) {
		t.Errorf("error logs on stderr:\n%s", stderr.String())
	}
}

// readEnv reads KEY=VALUE lines from r until DEVSTACK_READY=1, returning the
// variables and any lines that were not KEY=VALUE. It keeps draining r afterwards.
func readEnv(t *testing.T, r io.Reader, timeout time.Duration, stderr *syncBuffer) (map[string]string, []string) {
	t.Helper()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	env := map[string]string{}
	var extra []string
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("aind-devstack closed stdout before DEVSTACK_READY=1\nstderr:\n%s", stderr.String())
			}
			if line == "DEVSTACK_READY=1" {
				go func() {
					for range lines {
					}
				}()
				return env, extra
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok || k == "" || strings.ContainsAny(v, " \t") {
				extra = append(extra, line)
				continue
			}
			env[k] = v
		case <-timer.C:
			t.Fatalf("no DEVSTACK_READY=1 within %s\nstderr:\n%s", timeout, stderr.String())
		}
	}
}

// childPid returns the pid of parent's child process named comm.
func childPid(t *testing.T, parent int, comm string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Format: pid (comm) state ppid ...
		s := string(stat)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		fields := strings.Fields(s[closing+1:])
		if len(fields) < 2 || s[open+1:closing] != comm || fields[1] != strconv.Itoa(parent) {
			continue
		}
		return pid
	}
	t.Fatalf("no %s child of pid %d", comm, parent)
	return 0
}

// processExists reports whether /proc/<pid> exists and is not a zombie.
func processExists(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		if f := strings.Fields(s[i+1:]); len(f) > 0 && f[0] == "Z" {
			return false
		}
	}
	return true
}
