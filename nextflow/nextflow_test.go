package nextflow

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/devstacktest"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
)

// These tests run the pipeline with real Nextflow (the release scripts/install-deps pins,
// or $NEXTFLOW) on the local executor, the built binaries on PATH, against the devstack.

var (
	nextflowOnce sync.Once
	nextflowBin  string
	nextflowErr  error
	nxfHome      string
)

// nextflowLauncher returns the Nextflow to run: $NEXTFLOW, else the project's pinned
// release (installed on first use by scripts/install-deps --nextflow). A missing Nextflow
// fails the test: these tests are the pipeline's only real run.
func nextflowLauncher(t *testing.T) string {
	t.Helper()
	nextflowOnce.Do(func() {
		if nextflowBin = os.Getenv("NEXTFLOW"); nextflowBin != "" {
			return
		}
		out, err := exec.Command("../scripts/install-deps", "--nextflow").Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				err = fmt.Errorf("%w\n%s", err, ee.Stderr)
			}
			nextflowErr = fmt.Errorf("installing Nextflow (scripts/install-deps --nextflow): %w", err)
			return
		}
		nextflowBin = strings.TrimSpace(string(out))
		nxfHome, nextflowErr = os.MkdirTemp("", "aind-nxf-home-")
	})
	if nextflowErr != nil {
		t.Fatal(nextflowErr)
	}
	return nextflowBin
}

// pipeline is one launch folder of the pipeline with its own results database, results
// collection and bucket in the devstack.
type pipeline struct {
	t          *testing.T
	ds         *devstacktest.Env
	root       string // the repository: the pipeline's project dir
	dir        string // the launch folder (.nextflow/ cache, work/)
	outdir     string
	db         string
	collection string
	bucket     string
	env        map[string]string
}

func newPipeline(t *testing.T) *pipeline {
	t.Helper()
	nextflowLauncher(t)
	ds := devstacktest.Get(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline{t: t, ds: ds, root: root, dir: t.TempDir(), db: ds.NewDatabase(t), collection: "results", bucket: ds.NewBucket(t)}
	p.outdir = filepath.Join(p.dir, "outdir")
	p.env = map[string]string{}
	for k, v := range ds.Vars {
		p.env[k] = v
	}
	for k, v := range ds.DocDBVars() {
		p.env[k] = v
	}
	binDir := filepath.Dir(bins["aind-dispatch"])
	p.env["PATH"] = binDir + string(os.PathListSeparator) + os.Getenv("PATH")
	p.env["DOCDB_DATABASE"], p.env["DOCDB_COLLECTION"] = p.db, p.collection
	p.env["ANALYSIS_BUCKET"] = "s3://" + p.bucket
	p.env["CODEOCEAN_EMAIL"] = "nextflow-test@example.org"
	p.env["NXF_HOME"] = nxfHome
	p.env["NXF_ANSI_LOG"] = "false"
	p.env["NXF_DISABLE_CHECK_LATEST"] = "true"
	p.env["AIND_LOG_LEVEL"] = "warn"
	return p
}

// task is one row of Nextflow's trace file.
type task struct {
	Process, Tag, Status string
	Exit, Attempt        int
	// NativeID is the executor's id of the task: a PID (local), a SLURM job id (slurm).
	NativeID string
	// Workdir is the task's work folder.
	Workdir string
}

// run is one finished `nextflow` command.
type run struct {
	exit   int
	output string
	tasks  []task // this run's trace (none for commands other than run)
}

// count returns how many of the run's tasks of process have status.
func (r run) count(process, status string) int {
	n := 0
	for _, t := range r.tasks {
		if t.Process == process && t.Status == status {
			n++
		}
	}
	return n
}

func (r run) String() string {
	return fmt.Sprintf("exit %d, tasks %+v\n%s", r.exit, r.tasks, r.output)
}

// environ is the environment of a run: the ambient one less any DOCDB_/AWS_/NXF_/CO_
// variable (CO_* would switch on the codeocean profile's settings) and the capsules' folder
// variables, the pipeline's (devstack, results database and bucket, tools on PATH), then extra.
func (p *pipeline) environ(extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "DOCDB_"), strings.HasPrefix(k, "AWS_"), strings.HasPrefix(k, "NXF_"), strings.HasPrefix(k, "CO_"),
			k == "INPUT_DIRECTORY", k == "OUTPUT_DIRECTORY", k == "SCRATCH_DIRECTORY":
			continue
		}
		if _, ok := p.env[k]; !ok {
			env = append(env, kv)
		}
	}
	for k, v := range p.env {
		env = append(env, k+"="+v)
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// nextflow runs the launcher with args in the launch folder and the pipeline's environment
// (environ, plus env), and reads the trace this run wrote.
func (p *pipeline) nextflow(env map[string]string, args ...string) run {
	p.t.Helper()
	before := traces(p.outdir)
	cmd := exec.Command(nextflowLauncher(p.t), args...)
	cmd.Dir = p.dir
	cmd.Env = p.environ(env)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	r := run{output: out.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.exit = ee.ExitCode()
	case err != nil:
		p.t.Fatalf("nextflow %v: %v", args, err)
	}
	for f := range traces(p.outdir) {
		if !before[f] {
			r.tasks = append(r.tasks, readTrace(p.t, f)...)
		}
	}
	return r
}

// pipelineRun is `nextflow run <repo> --outdir <outdir> args...`.
func (p *pipeline) run(args ...string) run {
	p.t.Helper()
	return p.nextflow(nil, append([]string{"run", p.root, "--outdir", p.outdir}, args...)...)
}

func traces(outdir string) map[string]bool {
	files, _ := filepath.Glob(filepath.Join(outdir, "pipeline_info", "trace_*.txt"))
	m := map[string]bool{}
	for _, f := range files {
		m[f] = true
	}
	return m
}

func readTrace(t *testing.T, path string) []task {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var cols map[string]int
	var tasks []task
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if cols == nil {
			cols = map[string]int{}
			for i, c := range fields {
				cols[c] = i
			}
			for _, c := range []string{"process", "tag", "status", "exit", "attempt", "native_id", "workdir"} {
				if _, ok := cols[c]; !ok {
					t.Fatalf("trace %s has no %s column: %v", path, c, fields)
				}
			}
			continue
		}
		exit, _ := strconv.Atoi(fields[cols["exit"]])
		attempt, _ := strconv.Atoi(fields[cols["attempt"]])
		tasks = append(tasks, task{Process: fields[cols["process"]], Tag: fields[cols["tag"]],
			Status: fields[cols["status"]], Exit: exit, Attempt: attempt,
			NativeID: fields[cols["native_id"]], Workdir: fields[cols["workdir"]]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return tasks
}

var hashName = regexp.MustCompile(`^[0-9a-f]{64}$`)

// published returns the result folders (<hash>/) and marker files in the outdir, checking
// that nothing else is there but pipeline_info/: the layout the README documents.
func (p *pipeline) published() (results, markers []string) {
	p.t.Helper()
	entries, err := os.ReadDir(p.outdir)
	if err != nil {
		p.t.Fatalf("outdir: %v", err)
	}
	for _, e := range entries {
		switch {
		case e.IsDir() && hashName.MatchString(e.Name()):
			results = append(results, e.Name())
		case !e.IsDir() && (strings.HasPrefix(e.Name(), "skip_") || strings.HasPrefix(e.Name(), "failed_")):
			markers = append(markers, e.Name())
		case e.IsDir() && e.Name() == "pipeline_info":
		case !e.IsDir() && e.Name() == job.NoJobsFile:
			// passed on by a wrapper given the dispatcher's placeholder as its job folder
			// (Code Ocean's generated pipeline, when nothing was dispatched)
		default:
			p.t.Errorf("outdir holds %s: not a <hash>/ result, a skip_/failed_ marker or pipeline_info/", e.Name())
		}
	}
	return results, markers
}

// verifyResult checks a published result folder against its manifest.json: every file
// listed is there with its size and SHA-256, and nothing else but the manifest.
func (p *pipeline) verifyResult(hash string) {
	p.t.Helper()
	dir := filepath.Join(p.outdir, hash)
	var m struct {
		Hash  string `json:"hash"`
		Files []struct {
			Path   string `json:"path"`
			Size   int64  `json:"size"`
			SHA256 string `json:"sha256"`
		} `json:"files"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		p.t.Fatalf("result %s: %v", hash, err)
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Hash != hash || len(m.Files) == 0 {
		p.t.Fatalf("result %s: manifest %s (%v)", hash, b, err)
	}
	listed := map[string]bool{"manifest.json": true}
	for _, f := range m.Files {
		listed[f.Path] = true
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil {
			p.t.Errorf("result %s: %s listed but not published: %v", hash, f.Path, err)
			continue
		}
		sum := sha256.Sum256(data)
		if int64(len(data)) != f.Size || hex.EncodeToString(sum[:]) != f.SHA256 {
			p.t.Errorf("result %s: %s differs from the manifest", hash, f.Path)
		}
	}
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if !listed[filepath.ToSlash(rel)] {
			p.t.Errorf("result %s: %s is not in the manifest", hash, rel)
		}
		return nil
	})
	if err != nil {
		p.t.Fatal(err)
	}
}

// records returns the ids of the result records in the pipeline's collection.
func (p *pipeline) records() []string {
	p.t.Helper()
	c := p.ds.Mongo(p.t).Database(p.db).Collection(p.collection)
	cur, err := c.Find(context.Background(), bson.D{})
	if err != nil {
		p.t.Fatal(err)
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(context.Background(), &docs); err != nil {
		p.t.Fatal(err)
	}
	ids := make([]string, 0, len(docs))
	for _, d := range docs {
		ids = append(ids, d.ID)
	}
	sort.Strings(ids)
	return ids
}

func sorted(s []string) []string {
	s = append([]string{}, s...)
	sort.Strings(s)
	return s
}

func equal(a, b []string) bool {
	return strings.Join(sorted(a), ",") == strings.Join(sorted(b), ",")
}
