package nextflow

// Invariant 1 of docs/DESIGN.md ("One identity"), checked the way the pipeline runs:
// main.nf's own DISPATCH and WRAPPER command lines, interpolated with generated pipeline
// params, run as the built binaries against the devstack. After a complete run (dispatch,
// then the wrapper with dry_run=false on every task folder), a new dispatch with the same
// params must write zero jobs.

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/clitest"
	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/devstacktest"
)

// identityCase is one generated set of pipeline params and input files.
type identityCase struct {
	values    map[string]any // pipeline params that differ from the defaults
	fixed     map[string]any // analysis_parameters.json fixed_parameters
	sweep     []map[string]any
	schema    string // parameter schema document, "" for none
	wantsJobs bool
}

func (c identityCase) String() string {
	b, _ := json.Marshal(map[string]any{"params": c.values, "fixed": c.fixed, "sweep": c.sweep, "schema": c.schema != ""})
	return string(b)
}

const identitySchema = `{"type": "object", "properties": {"window": {"type": "integer", "default": 10}, "method": {"type": "string", "default": "mean"}, "smooth": {"type": "boolean"}}}`

// genIdentityCase draws a pipeline configuration: grouping or not, files found (split or
// kept) or not, a sweep or not, overrides or not, a schema with defaults or not, and a code
// identity with or without a name.
func genIdentityCase(r *rand.Rand) identityCase {
	c := identityCase{values: map[string]any{}, wantsJobs: true}
	pick := func(options ...any) any { return options[r.IntN(len(options))] }
	grouped := r.IntN(2) == 0
	if grouped {
		c.values["group_by"] = "subject.subject_id"
	}
	if r.IntN(3) > 0 {
		c.values["file_extension"] = ".nwb"
		// A group of several assets cannot be split per file.
		c.values["split_files"] = !grouped && r.IntN(2) == 0
	}
	c.values["tasks_per_job"] = 1 + r.IntN(3)
	c.values["code_url"] = pick("https://github.com/org/analysis", "https://github.com/org/other.git")
	c.values["code_name"] = pick("", "", "named")
	c.values["code_version"] = pick("1.0.0", "abc123") // publishing needs a version
	if r.IntN(2) == 0 {
		c.fixed = map[string]any{"analysis_name": "prop", "threshold": 0.5}
	}
	if r.IntN(2) == 0 {
		for i := 0; i < 1+r.IntN(3); i++ {
			c.sweep = append(c.sweep, map[string]any{"cutoff": i + 1})
		}
	}
	if r.IntN(2) == 0 {
		c.schema = identitySchema
		c.values["parameter_schema"] = "code/parameter_schema.json"
	}
	overrides := map[string]any{}
	for _, o := range []struct {
		key string
		val any
	}{{"window", 3}, {"threshold", 0.75}, {"smooth", true}, {"label", "None"}, {"extra", nil}} {
		if r.IntN(3) == 0 {
			overrides[o.key] = o.val
		}
	}
	if len(overrides) > 0 {
		b, _ := json.Marshal(overrides)
		c.values["parameter_overrides"] = string(b)
	}
	return c
}

// identityAssets are the asset records and files every case selects from: two assets of
// subject 100 (a group), one of subject 200, each with one or two NWB files.
var identityAssets = []struct {
	id, subject string
	files       []string
}{
	{"a1", "100", []string{"nwb/a1.nwb", "nwb/a1b.nwb"}},
	{"a2", "100", []string{"nwb/a2.nwb"}},
	{"b1", "200", []string{"nwb/b1.nwb", "nwb/b1b.nwb"}},
}

func TestAFullRunLeavesNothingToDispatch(t *testing.T) {
	env := devstacktest.Get(t)
	cases := []identityCase{
		// main.nf's defaults apart from the code identity: code_name empty.
		{values: map[string]any{"code_url": "https://github.com/org/analysis", "code_version": "1"}, wantsJobs: true},
	}
	seed := uint64(20250501)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i < 6; i++ {
		cases = append(cases, genIdentityCase(r))
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Logf("seed %d, case %d: %s", seed, i, c)
			runFullPipeline(t, env, c)
		})
	}
}

// runFullPipeline dispatches, runs the wrapper on every task folder with dry_run=false,
// dispatches again and requires the second dispatch to write no job.
func runFullPipeline(t *testing.T, env *devstacktest.Env, c identityCase) {
	db, bucket := env.NewDatabase(t), env.NewBucket(t)
	var docs []any
	objects := map[string]string{}
	for _, a := range identityAssets {
		docs = append(docs, bson.D{
			{Key: "_id", Value: a.id}, {Key: "name", Value: "asset_" + a.id},
			{Key: "location", Value: "s3://" + bucket + "/" + a.id},
			{Key: "subject", Value: bson.D{{Key: "subject_id", Value: a.subject}}},
			{Key: "data_description", Value: bson.D{{Key: "project_name", Value: "P"}}},
		})
		for _, f := range a.files {
			objects[a.id+"/"+f] = "x"
		}
	}
	env.InsertDocs(t, db, "data_assets", docs)
	env.PutObjects(t, bucket, objects)

	vars := map[string]string{}
	for k, v := range env.Vars {
		vars[k] = v
	}
	for k, v := range env.DocDBVars() {
		vars[k] = v
	}
	for k, v := range map[string]string{
		"DOCDB_ASSET_DATABASE": db, "DOCDB_ASSET_COLLECTION": "data_assets",
		"DOCDB_DATABASE": db, "DOCDB_COLLECTION": "results",
		"ANALYSIS_BUCKET": "s3://" + bucket + "/results",
	} {
		vars[k] = v
	}

	// The pipeline's input files and analysis code, staged as main.nf stages them.
	inputs := t.TempDir()
	write(t, filepath.Join(inputs, "input_query.json"), `{"data_description.project_name": "P"}`)
	pf, _ := json.Marshal(map[string]any{"fixed_parameters": c.fixed, "distributed_parameters": c.sweep})
	write(t, filepath.Join(inputs, "analysis_parameters.json"), string(pf))
	code := t.TempDir()
	if c.schema != "" {
		write(t, filepath.Join(code, "parameter_schema.json"), c.schema)
	}

	values := map[string]any{}
	for k, p := range schemaProps(t) {
		values[k] = p.Default
	}
	values["dry_run"] = false
	values["analysis_command"] = "true"
	for k, v := range c.values {
		values[k] = v
	}
	lines := scriptLines(t)
	man := manifest(t)
	run := func(process, dir string) clitest.Result {
		t.Helper()
		// The binary's command line, without the shell's handling of its exit status.
		line, _, _ := strings.Cut(lines[process], " || ")
		words := shellWords(interpolate(t, line, values, man))
		cmd := clitest.Command(bins[words[0]], vars, words[1:]...)
		cmd.Dir = dir
		res := clitest.Wait(t, cmd)
		if res.Code != 0 {
			t.Fatalf("%s exited %d\nstdout: %s\nstderr: %s", process, res.Code, res.Stdout, res.Stderr)
		}
		return res
	}
	stage := func(dir string) {
		t.Helper()
		for _, f := range []string{"input_query.json", "analysis_parameters.json"} {
			link(t, filepath.Join(inputs, f), filepath.Join(dir, "data", f))
		}
		link(t, code, filepath.Join(dir, "code"))
	}
	dispatch := func() (string, []string) {
		t.Helper()
		dir := t.TempDir()
		stage(dir)
		res := run("DISPATCH", dir)
		folders, _ := filepath.Glob(filepath.Join(dir, "results", "*"))
		var tasks []string
		for _, f := range folders {
			if st, err := os.Stat(f); err == nil && st.IsDir() {
				tasks = append(tasks, f)
			}
		}
		sort.Strings(tasks)
		return res.Stdout, tasks
	}

	summary, tasks := dispatch()
	if c.wantsJobs && len(tasks) == 0 {
		t.Fatalf("first dispatch wrote no task folder: %s", summary)
	}
	for _, task := range tasks {
		dir := t.TempDir()
		stage(dir)
		link(t, task, filepath.Join(dir, "data", "job_dict"))
		res := run("WRAPPER", dir)
		var jobs, ran int
		if _, err := fmt.Sscanf(res.Stdout, "aind-wrapper: %d jobs: %d ran", &jobs, &ran); err != nil || jobs == 0 || ran != jobs {
			t.Fatalf("wrapper on %s did not publish every job: %s", task, res.Stdout)
		}
	}
	again, tasks := dispatch()
	if len(tasks) > 0 {
		t.Fatalf("after a full run the dispatcher wrote %d task folders again:\nfirst: %s\nagain: %s", len(tasks), summary, again)
	}
	if !strings.Contains(again, "0 written") {
		t.Fatalf("second dispatch: %s", again)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func link(t *testing.T, target, name string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}
