package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/clitest"
	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/devstacktest"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

var binary string

func TestMain(m *testing.M) {
	bins, cleanup := clitest.Build(".")
	binary = bins["aind-wrapper"]
	code := devstacktest.Main(m)
	cleanup()
	os.Exit(code)
}

const schema = `{"type": "object", "properties": {"analysis_name": {"type": "string"}, "cutoff": {"type": "number", "maximum": 1}, "label": {"type": "string"}}, "required": ["analysis_name", "cutoff"]}`

// stack is one test's inputs, bucket, database and environment.
type stack struct {
	env     map[string]string
	ds      *devstacktest.Env
	in      string
	bucket  string
	db      string
	coll    string
	job     job.Job
	jobStem string
}

func newStack(t *testing.T, fixed map[string]any) *stack {
	t.Helper()
	ds := devstacktest.Get(t)
	ds.Setenv(t)
	s := &stack{ds: ds, env: map[string]string{}, in: t.TempDir(), bucket: ds.NewBucket(t), db: ds.NewDatabase(t), coll: "results"}
	for k, v := range ds.Vars {
		s.env[k] = v
	}
	for k, v := range map[string]string{
		"DOCDB_DATABASE": s.db, "DOCDB_COLLECTION": s.coll, "ANALYSIS_BUCKET": s.bucket + "/results",
		"AIND_CODE_URL": "https://example.org/analysis", "AIND_CODE_VERSION": "2.0.0", "CODEOCEAN_EMAIL": "someone@example.org",
		"INPUT_DIRECTORY": s.in, "SCRATCH_DIRECTORY": t.TempDir(), "DOCDB_TIMEOUT": "2s",
	} {
		s.env[k] = v
	}
	s.job = job.Job{S3Location: []string{"s3://" + s.bucket + "/asset"}, AssetName: []string{"asset"}, DocDBRecordID: []string{"rec"}}
	name, _ := s.job.FileName()
	s.jobStem = strings.TrimSuffix(name, ".json")
	b, _ := s.job.Marshal()
	must(t, os.MkdirAll(filepath.Join(s.in, "job_dict"), 0o755))
	must(t, os.WriteFile(filepath.Join(s.in, "job_dict", name), b, 0o644))
	p, _ := json.Marshal(map[string]any{"fixed_parameters": fixed})
	must(t, os.WriteFile(filepath.Join(s.in, "analysis_parameters.json"), p, 0o644))
	must(t, os.WriteFile(filepath.Join(s.in, "schema.json"), []byte(schema), 0o644))
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// hash is the identity the wrapper computes for the stack's job with these parameters. The
// code's name comes from its URL (no --code_name), never from the command (sh).
func (s *stack) hash(p map[string]any) string {
	h, _ := s.job.Code(identity.CodeInfo{URL: "https://example.org/analysis", Version: "2.0.0", RunScript: "code/run", Name: "analysis"}, p).Hash()
	return h
}

func (s *stack) command(out string, args ...string) *exec.Cmd {
	return clitest.Command(binary, s.env, append([]string{"run", "--output_directory=" + out}, args...)...)
}

func (s *stack) run(t *testing.T, out string, args ...string) clitest.Result {
	t.Helper()
	return clitest.Wait(t, s.command(out, args...))
}

func (s *stack) records(t *testing.T) []bson.M {
	t.Helper()
	c := s.ds.Mongo(t)
	cur, err := c.Database(s.db).Collection(s.coll).Find(context.Background(), bson.D{})
	must(t, err)
	var out []bson.M
	must(t, cur.All(context.Background(), &out))
	return out
}

func (s *stack) objects(t *testing.T) []string {
	t.Helper()
	st, err := storage.NewS3(context.Background(), storage.S3Options{Endpoint: s.ds.S3Endpoint})
	must(t, err)
	var keys []string
	must(t, st.List(context.Background(), storage.MustParse("s3://"+s.bucket+"/results"), func(o storage.Object) error {
		keys = append(keys, o.Rel)
		return nil
	}))
	return keys
}

const analysis = `echo "analysing $AIND_JOB_HASH"; cp "$AIND_PARAMETERS_FILE" "$AIND_OUTPUT_DIR/params_seen.json"; echo '{"n": 3}' > "$AIND_OUTPUTS_FILE"`

func TestCommandModeFullJobReadBackOutsideGo(t *testing.T) {
	s := newStack(t, map[string]any{"analysis_name": "e2e", "cutoff": 0.5})
	out := t.TempDir()
	// Code Ocean app panels pass parameters as --name=value; --cutoff overrides the file.
	r := s.run(t, out, "--dry_run=0", "--parameter_schema="+filepath.Join(s.in, "schema.json"), "--cutoff=0.25", "--label", "x", "--", "sh", "-c", analysis)
	if r.Code != 0 {
		t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "1 ran") {
		t.Fatalf("summary: %q", r.Stdout)
	}
	hash := s.hash(map[string]any{"analysis_name": "e2e", "cutoff": 0.25, "label": "x"})
	meta, err := os.ReadFile(filepath.Join(out, hash, "metadata.nd.json"))
	if err != nil {
		t.Fatalf("no result folder named by the expected identity %s: %v\n%s", hash, err, r.Stderr)
	}
	var local map[string]any
	must(t, json.Unmarshal(meta, &local))

	// The record, read by pymongo (Debian python3-pymongo, so Debian's interpreter) from FerretDB.
	py := `import json, sys, pymongo
c = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=5000)
rec = c[sys.argv[2]][sys.argv[3]].find_one({"_id": sys.argv[4]})
print(json.dumps(rec))`
	pyOut, err := exec.Command("/usr/bin/python3", "-c", py, s.ds.DocDBURI, s.db, s.coll, hash).CombinedOutput()
	if err != nil {
		t.Fatalf("pymongo: %v\n%s", err, pyOut)
	}
	var rec map[string]any
	if err := json.Unmarshal(pyOut, &rec); err != nil || rec == nil {
		t.Fatalf("pymongo found no record: %s", pyOut)
	}
	delete(rec, "_id")
	if a, b := canonical(t, rec), canonical(t, local); a != b {
		t.Fatalf("record read by pymongo differs from metadata.nd.json:\n%s\n%s", a, b)
	}

	// The uploaded files, listed by awscli.
	aws := exec.Command("aws", "s3", "ls", "--recursive", "s3://"+s.bucket+"/results/"+hash+"/", "--endpoint-url", s.ds.S3Endpoint)
	aws.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+s.ds.AccessKey, "AWS_SECRET_ACCESS_KEY="+s.ds.SecretKey, "AWS_DEFAULT_REGION="+s.ds.Region)
	awsOut, err := aws.CombinedOutput()
	if err != nil {
		t.Fatalf("aws s3 ls: %v\n%s", err, awsOut)
	}
	var listed []string
	for _, line := range strings.Split(strings.TrimSpace(string(awsOut)), "\n") {
		f := strings.Fields(line)
		listed = append(listed, strings.TrimPrefix(f[len(f)-1], "results/"+hash+"/"))
	}
	sort.Strings(listed)
	want := []string{"analysis.log", "manifest.json", "metadata.nd.json", "outputs.json", "params_seen.json"}
	if strings.Join(listed, ",") != strings.Join(want, ",") {
		t.Fatalf("aws s3 ls lists %v, want %v", listed, want)
	}

	// Run again: nothing is analysed the second time.
	r = s.run(t, t.TempDir(), "--dry_run=0", "--parameter_schema="+filepath.Join(s.in, "schema.json"), "--cutoff=0.25", "--label", "x", "--", "sh", "-c", analysis)
	if r.Code != 0 || !strings.Contains(r.Stdout, "1 skipped") {
		t.Fatalf("second run: exit %d, %q", r.Code, r.Stdout)
	}
}

func canonical(t *testing.T, v any) string {
	b, err := identity.Canonical(v)
	must(t, err)
	return string(b)
}

func TestRacingWrappersProduceOneResult(t *testing.T) {
	s := newStack(t, map[string]any{"analysis_name": "race", "cutoff": 0.5})
	runs := filepath.Join(t.TempDir(), "runs.txt")
	script := `echo run >> ` + runs + `; sleep 0.5; echo '{}' > "$AIND_OUTPUTS_FILE"`
	const n = 50
	codes := make([]int, n)
	stderr := make([]bytes.Buffer, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := s.command(t.TempDir(), "--dry_run=0", "--log-level=warn", "--", "sh", "-c", script)
			cmd.Stderr = &stderr[i]
			err := cmd.Run()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				codes[i] = ee.ExitCode()
			} else if err != nil {
				codes[i] = -1
			}
		}()
	}
	wg.Wait()
	dist := map[int]int{}
	for _, c := range codes {
		dist[c]++
	}
	t.Logf("exit codes of %d racing wrappers: %v", n, dist)
	for i, c := range codes {
		if c != 0 && c != 75 {
			t.Fatalf("wrapper %d exited %d (want 0, or 75 while another held the job):\n%s", i, c, stderr[i].String())
		}
	}
	b, _ := os.ReadFile(runs)
	if got := strings.Count(string(b), "run"); got != 1 {
		t.Fatalf("the analysis ran %d times across %d racing wrappers, want 1", got, n)
	}
	if recs := s.records(t); len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	prefixes := map[string]bool{}
	for _, k := range s.objects(t) {
		prefixes[strings.SplitN(k, "/", 2)[0]] = true
	}
	if len(prefixes) != 1 {
		t.Fatalf("result prefixes %v, want exactly one", prefixes)
	}
}

func TestKilledDuringUploadThenRerunFinishesOnce(t *testing.T) {
	s := newStack(t, map[string]any{"analysis_name": "kill", "cutoff": 0.5})
	s.env["AIND_CLAIM_LEASE"] = "3s"
	s.env["AIND_UPLOAD_CONCURRENCY"] = "4"
	hash := s.hash(map[string]any{"analysis_name": "kill", "cutoff": 0.5})
	script := `head -c 268435456 /dev/urandom > "$AIND_OUTPUT_DIR/big.bin"; echo '{}' > "$AIND_OUTPUTS_FILE"`
	cmd := s.command(t.TempDir(), "--dry_run=0", "--", "sh", "-c", script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	// Kill it as soon as the first result object lands, while big.bin is still uploading.
	deadline := time.Now().Add(2 * time.Minute)
	for len(s.objects(t)) == 0 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("no upload started\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	partial := s.objects(t)
	for _, k := range partial {
		if strings.HasSuffix(k, "manifest.json") {
			t.Fatalf("manifest uploaded before the kill: the kill came too late to test anything (%v)", partial)
		}
	}
	if len(s.records(t)) != 0 {
		t.Fatal("record written for a killed upload")
	}
	// Straight away the dead wrapper's claim is still live: the job is deferred (retry later).
	if r := s.run(t, t.TempDir(), "--dry_run=0", "--", "sh", "-c", script); r.Code != 75 {
		t.Fatalf("re-run under a live claim: exit %d, want 75\n%s", r.Code, r.Stderr)
	}
	time.Sleep(3500 * time.Millisecond)
	r := s.run(t, t.TempDir(), "--dry_run=0", "--", "sh", "-c", script)
	if r.Code != 0 || !strings.Contains(r.Stdout, "1 ran") {
		t.Fatalf("re-run after the lease: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	recs := s.records(t)
	if len(recs) != 1 || recs[0]["_id"] != hash {
		t.Fatalf("records %v", recs)
	}
	var got []string
	for _, k := range s.objects(t) {
		got = append(got, k)
	}
	want := []string{hash + "/analysis.log", hash + "/big.bin", hash + "/manifest.json", hash + "/metadata.nd.json", hash + "/outputs.json"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("objects %v, want exactly one complete result %v", got, want)
	}
}

func TestUsageErrors(t *testing.T) {
	s := newStack(t, map[string]any{"analysis_name": "u", "cutoff": 0.5})
	noColl := newStack(t, map[string]any{"analysis_name": "u", "cutoff": 0.5})
	delete(noColl.env, "DOCDB_COLLECTION")
	tests := []struct {
		name string
		s    *stack
		args []string
		code int
		want string
	}{
		{"invalid parameter fails the job", s, []string{"--dry_run=0", "--parameter_schema=" + filepath.Join(s.in, "schema.json"), "--cutoff=2", "--", "true"}, 1, "cutoff: must be <= 1"},
		{"badly typed override", s, []string{"--parameter_schema=" + filepath.Join(s.in, "schema.json"), "--cutoff=abc", "--", "true"}, 2, `"cutoff"`},
		{"no results collection", noColl, []string{"--dry_run=0", "--", "true"}, 2, "DOCDB_COLLECTION"},
		{"no command", s, []string{"--dry_run=0"}, 2, "command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.s.run(t, t.TempDir(), tt.args...)
			if r.Code != tt.code || !strings.Contains(r.Stderr, tt.want) {
				t.Fatalf("exit %d (want %d), stderr does not contain %q:\n%s", r.Code, tt.code, tt.want, r.Stderr)
			}
		})
	}
}
