package nextflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The drop-in Code Ocean capsules of codeocean/ (issue 12), run as Code Ocean runs them: the
// capsule's code/run started in code/, the app panel's named parameters as "$@" (--name=value,
// snake_case, every value a string, unset fields empty), the CO_* variables of a computation,
// /data, /results and /scratch moved to temporary folders with INPUT_DIRECTORY,
// OUTPUT_DIRECTORY and SCRATCH_DIRECTORY, and only the environment the README's "Start on
// Code Ocean" section sets (DOCDB_*, ANALYSIS_BUCKET, CODEOCEAN_EMAIL, the AWS credentials).

const (
	coDispatcherID  = "00000000-0000-4000-8000-00000000d15a" // the dispatcher capsule's CO_CAPSULE_ID
	coWrapperID     = "00000000-0000-4000-8000-0000000000a1" // the wrapper capsule's
	coPipelineID    = "11111111-2222-4333-8444-555555555555"
	coComputationID = "66666666-7777-4888-8999-aaaaaaaaaaaa"
	coCodeVersion   = "demo-1"
)

// coSelection is the dispatcher's app panel for the Python example's sample data (as the
// test_python profile): one job per mouse over its NWB files, latest processing per session.
var coSelection = map[string]string{
	"file_extension": ".nwb", "split_files": "0", "group_by": "subject.subject_id",
	"filter_latest": "created", "filter_by": "data_description.input_data_name",
}

// panelParam is one parameter of a capsule's .codeocean/app-panel.json.
type panelParam struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	ParamName    string   `json:"param_name"`
	Description  string   `json:"description"`
	HelpText     string   `json:"help_text"`
	Type         string   `json:"type"`
	ValueType    string   `json:"value_type"`
	DefaultValue *string  `json:"default_value"`
	Minimum      *float64 `json:"minimum"`
	Maximum      *float64 `json:"maximum"`
}

func capsuleDir(t *testing.T, capsule string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "codeocean", capsule))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func appPanel(t *testing.T, capsule string) []panelParam {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(capsuleDir(t, capsule), ".codeocean", "app-panel.json"))
	if err != nil {
		t.Fatal(err)
	}
	var panel struct {
		Version         int          `json:"version"`
		NamedParameters bool         `json:"named_parameters"`
		Parameters      []panelParam `json:"parameters"`
	}
	if err := json.Unmarshal(b, &panel); err != nil {
		t.Fatalf("%s app panel: %v", capsule, err)
	}
	if panel.Version != 1 || !panel.NamedParameters || len(panel.Parameters) == 0 {
		t.Fatalf("%s app panel: version %d, named_parameters %v, %d parameters: want version 1, named parameters",
			capsule, panel.Version, panel.NamedParameters, len(panel.Parameters))
	}
	return panel.Parameters
}

// panelArgs are the arguments Code Ocean passes to code/run for the app panel with the
// fields in set filled in and every other field at its default, or empty when it has none.
func panelArgs(t *testing.T, capsule string, set map[string]string) []string {
	t.Helper()
	var args []string
	seen := map[string]bool{}
	for _, p := range appPanel(t, capsule) {
		v, ok := set[p.ParamName]
		if !ok && p.DefaultValue != nil {
			v = *p.DefaultValue
		}
		seen[p.ParamName] = true
		args = append(args, "--"+p.ParamName+"="+v)
	}
	for k := range set {
		if !seen[k] {
			t.Fatalf("%s app panel has no parameter %s", capsule, k)
		}
	}
	return args
}

// capsuleRoot makes the folders of one Code Ocean computation: data/ (with the files of
// from, if any), results/ and scratch/, all empty otherwise.
func capsuleRoot(t *testing.T, from ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"data", "results", "scratch"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range from {
		copyFile(t, f, filepath.Join(root, "data", filepath.Base(f)))
	}
	return root
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// runCapsule runs capsule's code/run as Code Ocean does: from code/, with args, in the
// computation whose folders are under root, as the capsule capsuleID.
func (p *pipeline) runCapsule(capsule, capsuleID, root string, args ...string) (int, string) {
	p.t.Helper()
	code := filepath.Join(capsuleDir(p.t, capsule), "code")
	cmd := exec.Command(filepath.Join(code, "run"), args...)
	cmd.Dir = code
	cmd.Env = p.environ(map[string]string{
		"CO_CAPSULE_ID": capsuleID, "CO_PIPELINE_ID": coPipelineID, "CO_COMPUTATION_ID": coComputationID,
		"INPUT_DIRECTORY": filepath.Join(root, "data"), "OUTPUT_DIRECTORY": filepath.Join(root, "results"),
		"SCRATCH_DIRECTORY": filepath.Join(root, "scratch"),
	})
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String()
	case err != nil:
		p.t.Fatalf("%s code/run: %v", capsule, err)
	}
	return 0, out.String()
}

// jobFolders returns the task folders the dispatcher wrote into results (0, 1, ...).
func jobFolders(t *testing.T, results string) []string {
	t.Helper()
	entries, err := os.ReadDir(results)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join(results, e.Name()))
		}
	}
	return dirs
}

// dispatcherArgs is the dispatcher's app panel for the sample selection, with the wrapper
// capsule's code identity and parameter schema so that recorded jobs are skipped.
func dispatcherArgs(t *testing.T) []string {
	set := map[string]string{"capsule_id": coWrapperID, "code_version": coCodeVersion,
		"parameter_schema": filepath.Join(capsuleDir(t, "wrapper"), "code", "parameter_schema.json")}
	for k, v := range coSelection {
		set[k] = v
	}
	return panelArgs(t, "dispatcher", set)
}

// TestCodeOceanCapsules: the dispatcher capsule's code/run, then the wrapper capsule's
// code/run on each job folder it wrote (staged as data/job_dict/ with analysis_parameters.json
// beside it), each in its own computation's folders: one job per mouse, each result in
// results/<hash>/ verified against its manifest, uploaded and recorded with the wrapper
// capsule's code URL and the computation and pipeline ids; then the dispatcher again finds
// every job recorded and writes none (the two capsules compute the same identities).
func TestCodeOceanCapsules(t *testing.T) {
	p := newPipeline(t)
	input := filepath.Join(p.root, "examples", "python", "input")
	query, params := filepath.Join(input, "input_query.json"), filepath.Join(input, "analysis_parameters.json")

	dispatch := capsuleRoot(t, query, params)
	if code, out := p.runCapsule("dispatcher", coDispatcherID, dispatch, dispatcherArgs(t)...); code != 0 {
		t.Fatalf("dispatcher capsule exited %d:\n%s", code, out)
	}
	folders := jobFolders(t, filepath.Join(dispatch, "results"))
	if len(folders) != testProfileJobs {
		t.Fatalf("dispatcher wrote %d job folders, want %d (one per mouse)", len(folders), testProfileJobs)
	}

	var results []string
	for _, folder := range folders {
		root := capsuleRoot(t, params)
		jobs := filepath.Join(root, "data", "job_dict")
		if err := os.Mkdir(jobs, 0o755); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(folder, "*.json"))
		for _, f := range files {
			copyFile(t, f, filepath.Join(jobs, filepath.Base(f)))
		}
		args := panelArgs(t, "wrapper", map[string]string{"dry_run": "0", "code_version": coCodeVersion})
		if code, out := p.runCapsule("wrapper", coWrapperID, root, args...); code != 0 {
			t.Fatalf("wrapper capsule on %s exited %d:\n%s", filepath.Base(folder), code, out)
		}
		p.outdir = filepath.Join(root, "results")
		got, markers := p.published()
		if len(got) != 1 || len(markers) != 0 {
			t.Fatalf("wrapper capsule on %s left results %v, markers %v: want one result", filepath.Base(folder), got, markers)
		}
		p.verifyResult(got[0])
		if _, err := os.Stat(filepath.Join(p.outdir, got[0], "files_per_asset.csv")); err != nil {
			t.Errorf("result %s lacks the analysis' files_per_asset.csv", got[0])
		}
		results = append(results, got[0])
	}
	if recs := p.records(); !equal(recs, results) {
		t.Fatalf("records %v, results %v: want one record per result", recs, results)
	}
	p.checkCodeOceanRecords(results, "Code Ocean pipeline "+coPipelineID)

	again := capsuleRoot(t, query, params)
	if code, out := p.runCapsule("dispatcher", coDispatcherID, again, dispatcherArgs(t)...); code != 0 {
		t.Fatalf("second dispatch exited %d:\n%s", code, out)
	}
	if left := jobFolders(t, filepath.Join(again, "results")); len(left) != 0 {
		t.Fatalf("second dispatch wrote %d job folders: the dispatcher capsule's identities differ from the wrapper's", len(left))
	}
	if _, err := os.Stat(filepath.Join(again, "results", "NO_JOBS.txt")); err != nil {
		t.Errorf("second dispatch: no NO_JOBS.txt: %v", err)
	}
}

// checkCodeOceanRecords checks each record names the wrapper capsule's code (URL from its
// CO_CAPSULE_ID, version from the app panel), the computation in its notes, the pipeline,
// the experimenter, the schema default of the parameter label, and its S3 location; the
// pipeline is named pipeline (main.nf names itself; a capsule alone names the CO_PIPELINE_ID).
func (p *pipeline) checkCodeOceanRecords(ids []string, pipeline string) {
	p.t.Helper()
	c := p.ds.Mongo(p.t).Database(p.db).Collection(p.collection)
	for _, id := range ids {
		var rec struct {
			Location   string `bson:"location"`
			Processing struct {
				DataProcesses []struct {
					Code struct {
						URL        string         `bson:"url"`
						Version    string         `bson:"version"`
						Parameters map[string]any `bson:"parameters"`
					} `bson:"code"`
					Notes        string   `bson:"notes"`
					PipelineName string   `bson:"pipeline_name"`
					Experimenter []string `bson:"experimenters"`
				} `bson:"data_processes"`
			} `bson:"processing"`
		}
		if err := c.FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Decode(&rec); err != nil {
			p.t.Fatalf("record %s: %v", id, err)
		}
		if len(rec.Processing.DataProcesses) != 1 {
			p.t.Fatalf("record %s: %d data processes, want 1", id, len(rec.Processing.DataProcesses))
		}
		dp := rec.Processing.DataProcesses[0]
		wantURL := "https://codeocean.allenneuraldynamics.org/capsule/" + coWrapperID
		if dp.Code.URL != wantURL || dp.Code.Version != coCodeVersion {
			p.t.Errorf("record %s: code %s %s, want %s %s", id, dp.Code.URL, dp.Code.Version, wantURL, coCodeVersion)
		}
		if !strings.Contains(dp.Notes, coComputationID) || dp.PipelineName != pipeline {
			p.t.Errorf("record %s: notes %q, pipeline %q: want the computation id and %q", id, dp.Notes, dp.PipelineName, pipeline)
		}
		if strings.Join(dp.Experimenter, ",") != p.env["CODEOCEAN_EMAIL"] || dp.Code.Parameters["label"] != "demo" {
			p.t.Errorf("record %s: experimenters %v, parameters %v: want CODEOCEAN_EMAIL and the schema's label", id, dp.Experimenter, dp.Code.Parameters)
		}
		if rec.Location != p.env["ANALYSIS_BUCKET"]+"/"+id {
			p.t.Errorf("record %s: location %s, want %s/%s", id, rec.Location, p.env["ANALYSIS_BUCKET"], id)
		}
	}
}

// TestCodeOceanProfile: this repository's main.nf with -profile codeocean inside a Code
// Ocean computation (CO_* set), its folders moved under a temporary root with
// AIND_CODEOCEAN_ROOT: the input is read from <root>/data/input_files, Nextflow works in
// <root>/scratch/work, the results and pipeline_info are published to <root>/results, with
// the wrapper capsule's analysis (codeocean/wrapper/code) and its code URL from CO_CAPSULE_ID.
func TestCodeOceanProfile(t *testing.T) {
	p := newPipeline(t)
	root := capsuleRoot(t)
	inputs := filepath.Join(root, "data", "input_files")
	if err := os.Mkdir(inputs, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"input_query.json", "analysis_parameters.json"} {
		copyFile(t, filepath.Join(p.root, "examples", "python", "input", f), filepath.Join(inputs, f))
	}
	p.outdir = filepath.Join(root, "results")
	env := map[string]string{"AIND_CODEOCEAN_ROOT": root, "CO_CAPSULE_ID": coWrapperID,
		"CO_PIPELINE_ID": coPipelineID, "CO_COMPUTATION_ID": coComputationID}
	args := []string{"run", p.root, "-profile", "codeocean",
		"--analysis_code", filepath.Join(capsuleDir(t, "wrapper"), "code"), "--analysis_command", "python3 code/analyse.py",
		"--parameter_schema", "code/parameter_schema.json", "--output_schema", "code/output_schema.json",
		"--dry_run", "false", "--code_version", coCodeVersion}
	for k, v := range coSelection {
		if k == "split_files" {
			v = "false"
		}
		args = append(args, "--"+k, v)
	}
	r := p.nextflow(env, args...)
	if r.exit != 0 || r.count("DISPATCH", "COMPLETED") != 1 || r.count("WRAPPER", "COMPLETED") != testProfileJobs {
		t.Fatalf("-profile codeocean: %s", r)
	}
	results, markers := p.published()
	if len(results) != testProfileJobs || len(markers) != 0 {
		t.Fatalf("published %v and markers %v in <root>/results, want %d results", results, markers, testProfileJobs)
	}
	for _, h := range results {
		p.verifyResult(h)
	}
	if recs := p.records(); !equal(recs, results) {
		t.Fatalf("records %v, published %v", recs, results)
	}
	p.checkCodeOceanRecords(results, "aind-analysis-go")
	if runs, _ := filepath.Glob(filepath.Join(root, "scratch", "work", "*", "*", ".command.run")); len(runs) != 1+testProfileJobs {
		t.Errorf("%d task folders under <root>/scratch/work, want %d", len(runs), 1+testProfileJobs)
	}
	if _, err := os.Stat(filepath.Join(p.dir, "work")); err == nil {
		t.Error("Nextflow worked in the launch folder's work/, not in <root>/scratch/work")
	}
}

// TestCodeOceanGeneratedPipeline: codeocean/pipeline/main.nf, the pipeline Code Ocean
// generates for the two capsules (each task runs its capsule's code/run in capsule/ with
// the app-panel arguments of the pipeline's params, DISPATCH's results flattened to one
// wrapper task per job folder staged as capsule/data/job_dict), with real Nextflow on the
// local executor: one wrapper task per mouse, every result published, verified and recorded
// with the wrapper capsule's identity.
func TestCodeOceanGeneratedPipeline(t *testing.T) {
	p := newPipeline(t)
	dispatch := strings.Join(quoteArgs(dispatcherArgs(t)), " ")
	wrap := strings.Join(quoteArgs(panelArgs(t, "wrapper", map[string]string{"dry_run": "0", "code_version": coCodeVersion})), " ")
	launch := func() run {
		t.Helper()
		return p.nextflow(map[string]string{"CO_PIPELINE_ID": coPipelineID, "CO_COMPUTATION_ID": coComputationID},
			"run", filepath.Join(p.root, "codeocean", "pipeline", "main.nf"), "--outdir", p.outdir,
			"--input", filepath.Join(p.root, "examples", "python", "input"),
			"--dispatcher_capsule_id", coDispatcherID, "--wrapper_capsule_id", coWrapperID,
			"--capsule_aind_analysis_dispatcher_1_args", dispatch, "--capsule_aind_analysis_wrapper_2_args", wrap)
	}
	r := launch()
	const dispatcher, wrapper = "capsule_aind_analysis_dispatcher_1", "capsule_aind_analysis_wrapper_2"
	if r.exit != 0 || r.count(dispatcher, "COMPLETED") != 1 || r.count(wrapper, "COMPLETED") != testProfileJobs || len(r.tasks) != 1+testProfileJobs {
		t.Fatalf("generated-style pipeline: %s", r)
	}
	results, markers := p.published()
	if len(results) != testProfileJobs || len(markers) != 0 {
		t.Fatalf("published %v and markers %v, want %d results", results, markers, testProfileJobs)
	}
	for _, h := range results {
		p.verifyResult(h)
	}
	if recs := p.records(); !equal(recs, results) {
		t.Fatalf("records %v, published %v", recs, results)
	}
	p.checkCodeOceanRecords(results, "Code Ocean pipeline "+coPipelineID)

	// Again: every job is recorded, so the dispatcher writes only its NO_JOBS.txt, which this
	// pipeline (like Code Ocean's) hands to one wrapper task as its job folder: that task
	// finds no job and succeeds, and nothing new is published or recorded.
	again := launch()
	if again.exit != 0 || again.count(dispatcher, "COMPLETED") != 1 || again.count(wrapper, "COMPLETED") != 1 || len(again.tasks) != 2 {
		t.Fatalf("second run (nothing to dispatch): %s", again)
	}
	if after, _ := p.published(); len(after) != len(results) || !equal(p.records(), results) {
		t.Fatalf("second run published %v, records %v", after, p.records())
	}
}

// quoteArgs quotes each argument for bash, as a Code Ocean pipeline's arguments string is
// pasted into the task script ("./run ${params.capsule_..._args}").
func quoteArgs(args []string) []string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return q
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// TestCodeOceanAppPanels: each capsule's .codeocean/app-panel.json is in the form Code
// Ocean's app builder stores (version 1, named parameters; each parameter with an id, a
// snake_case param_name, help, type text and a value type; integer defaults within their
// bounds), and code/run accepts it: with every default, and with every field empty (unset),
// through --parse-only. The dispatcher's panel has every dispatcher flag except those the
// capsule or its environment sets (listed); the wrapper's has every property of its
// parameter schema, and its other fields are wrapper flags.
func TestCodeOceanAppPanels(t *testing.T) {
	p := newPipeline(t)
	flags := func(t *testing.T, args ...string) map[string]bool {
		out, err := exec.Command(bins[args[0]], append(args[1:], "--help")...).Output()
		if err != nil {
			t.Fatalf("%v --help: %v", args, err)
		}
		m := map[string]bool{}
		for _, f := range regexp.MustCompile(`(?m)^\s+(?:-\w, )?--(?:\[no-\])?([a-z][a-z0-9_-]*)`).FindAllStringSubmatch(string(out), -1) {
			m[strings.ReplaceAll(f[1], "-", "_")] = true
		}
		if !m["help"] || !m["input_directory"] || !m["code_version"] {
			t.Fatalf("%v --help: found flags %v, not help, input_directory and code_version: its format changed", args, m)
		}
		return m
	}
	// Dispatcher flags the app panel leaves out, and why.
	notInPanel := map[string]string{
		"help": "kong", "version": "kong", "log_level": "AIND_LOG_LEVEL",
		"input_directory": "/data", "output_directory": "/results", "analysis_parameters": "found in /data",
		"list_concurrency": "tuning", "param": "repeatable; parameter_overrides instead",
		"asset_database": "DOCDB_ASSET_DATABASE", "asset_collection": "DOCDB_ASSET_COLLECTION",
		"docdb_uri": "environment", "docdb_host": "environment", "docdb_version": "environment",
		"docdb_timeout": "environment", "docdb_tls_ca_file": "environment",
		"results_database": "DOCDB_DATABASE", "results_collection": "DOCDB_COLLECTION",
		"release_version": "code_version instead", "commits_since_release": "code_version instead",
		"patch_commits": "code_version instead", "image_revision": "AIND_IMAGE_REVISION",
		"run_script": "code/run, the default", "codeocean_domain": "CODEOCEAN_DOMAIN",
	}
	for _, capsule := range []string{"dispatcher", "wrapper"} {
		t.Run(capsule, func(t *testing.T) {
			panel := appPanel(t, capsule)
			names := map[string]bool{}
			for _, prm := range panel {
				if !snakeCase.MatchString(prm.ParamName) || prm.Name != prm.ParamName || prm.ID == "" || names[prm.ParamName] {
					t.Errorf("parameter %+v: want a unique snake_case param_name, the same name, an id", prm)
				}
				names[prm.ParamName] = true
				if prm.Type != "text" || prm.HelpText == "" || prm.Description != prm.HelpText {
					t.Errorf("parameter %s: type %q, help %q: want a text field with help", prm.ParamName, prm.Type, prm.HelpText)
				}
				switch prm.ValueType {
				case "string":
				case "integer", "number":
					if prm.DefaultValue != nil {
						v, err := strconv.ParseFloat(*prm.DefaultValue, 64)
						if err != nil || (prm.Minimum != nil && v < *prm.Minimum) || (prm.Maximum != nil && v > *prm.Maximum) {
							t.Errorf("parameter %s: default %q outside its type or bounds", prm.ParamName, *prm.DefaultValue)
						}
					}
				default:
					t.Errorf("parameter %s: value_type %q", prm.ParamName, prm.ValueType)
				}
			}
			root := capsuleRoot(t)
			empty := map[string]string{}
			for n := range names {
				empty[n] = ""
			}
			for _, args := range [][]string{panelArgs(t, capsule, nil), panelArgs(t, capsule, empty)} {
				if code, out := p.runCapsule(capsule, coWrapperID, root, append([]string{"--parse-only"}, args...)...); code != 0 {
					t.Errorf("code/run --parse-only %v: exit %d\n%s", args, code, out)
				}
			}
			if capsule == "dispatcher" {
				for f := range flags(t, "aind-dispatch") {
					if _, skip := notInPanel[f]; !skip && !names[f] {
						t.Errorf("aind-dispatch --%s is not in the app panel (nor listed as left out)", f)
					}
				}
				for n := range names {
					if _, skip := notInPanel[n]; skip {
						t.Errorf("%s is both in the app panel and listed as left out", n)
					}
				}
				return
			}
			var schema struct {
				Properties map[string]any `json:"properties"`
			}
			b, err := os.ReadFile(filepath.Join(capsuleDir(t, "wrapper"), "code", "parameter_schema.json"))
			if err != nil || json.Unmarshal(b, &schema) != nil || len(schema.Properties) == 0 {
				t.Fatalf("wrapper parameter schema: %v", err)
			}
			wflags := flags(t, "aind-wrapper", "run")
			for n := range names {
				if schema.Properties[n] == nil && !wflags[n] {
					t.Errorf("%s is neither a parameter of the schema nor an aind-wrapper run flag", n)
				}
			}
			for n := range schema.Properties {
				if !names[n] {
					t.Errorf("schema property %s is not in the app panel", n)
				}
			}
		})
	}
}

// TestCodeOceanCapsuleFiles: what a lab duplicates is whole. Each capsule has an executable
// code/run that execs its tool with the app panel's "$@", and an environment/Dockerfile that
// parses (known instructions, FROM first after ARGs) and COPYs into /usr/local/bin only the
// static binary code/run calls, a name containers/build writes (every ./cmd/* into
// dist/linux_<arch>/) and codeocean/stage copies next to it. The wrapper capsule's analysis is
// the Python template, byte for byte (examples/python).
func TestCodeOceanCapsuleFiles(t *testing.T) {
	tools := map[string]string{"dispatcher": "aind-dispatch", "wrapper": "aind-wrapper"}
	for capsule, tool := range tools {
		dir := capsuleDir(t, capsule)
		run := filepath.Join(dir, "code", "run")
		st, err := os.Stat(run)
		if err != nil || st.Mode()&0o111 == 0 {
			t.Fatalf("%s: code/run missing or not executable: %v", capsule, err)
		}
		b, _ := os.ReadFile(run)
		if !regexp.MustCompile(`(?m)^exec ` + tool + `\b[^\n]*(\\\n[^\n]*)*"\$@"`).Match(b) {
			t.Errorf("%s: code/run does not exec %s with \"$@\"", capsule, tool)
		}
		df, err := os.ReadFile(filepath.Join(dir, "environment", "Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		copies := dockerfileCopies(t, capsule, string(df))
		if len(copies) != 1 || copies[0][0] != tool || copies[0][1] != "/usr/local/bin/"+tool {
			t.Errorf("%s: Dockerfile copies %v, want [%s /usr/local/bin/%s]", capsule, copies, tool, tool)
		}
		if _, err := os.Stat(filepath.Join("..", "cmd", tool, "main.go")); err != nil {
			t.Errorf("%s: containers/build writes no %s (no ./cmd/%s): %v", capsule, tool, tool, err)
		}
		stage, _ := os.ReadFile(filepath.Join("..", "codeocean", "stage"))
		if !strings.Contains(string(stage), capsule+":"+tool) {
			t.Errorf("codeocean/stage does not put %s into %s/environment/", tool, capsule)
		}
	}
	for _, f := range []string{"analyse.py", "parameters.py", "parameter_schema.json", "output_schema.json"} {
		a, errA := os.ReadFile(filepath.Join("..", "examples", "python", f))
		b, errB := os.ReadFile(filepath.Join(capsuleDir(t, "wrapper"), "code", f))
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("codeocean/wrapper/code/%s differs from examples/python/%s (%v, %v): copy it again", f, f, errA, errB)
		}
	}
}

// dockerfileCopies parses a Dockerfile (comments, line continuations, instruction names,
// FROM before anything but ARG) and returns its COPY instructions' [source, destination].
func dockerfileCopies(t *testing.T, name, text string) [][2]string {
	t.Helper()
	known := map[string]bool{"ADD": true, "ARG": true, "CMD": true, "COPY": true, "ENTRYPOINT": true, "ENV": true,
		"EXPOSE": true, "FROM": true, "HEALTHCHECK": true, "LABEL": true, "ONBUILD": true, "RUN": true,
		"SHELL": true, "STOPSIGNAL": true, "USER": true, "VOLUME": true, "WORKDIR": true}
	var copies [][2]string
	var line string
	from := false
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "#") && line == "" {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			line += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		line += l
		fields := strings.Fields(line)
		line = ""
		if len(fields) == 0 {
			continue
		}
		instr := strings.ToUpper(fields[0])
		switch {
		case !known[instr]:
			t.Errorf("%s Dockerfile: unknown instruction %q", name, fields[0])
		case !from && instr != "ARG" && instr != "FROM":
			t.Errorf("%s Dockerfile: %s before FROM", name, instr)
		case instr == "FROM":
			from = len(fields) >= 2
		case instr == "COPY":
			if len(fields) != 3 {
				t.Errorf("%s Dockerfile: %q: want COPY <source> <destination>", name, strings.Join(fields, " "))
				continue
			}
			copies = append(copies, [2]string{fields[1], fields[2]})
		}
	}
	if line != "" || !from {
		t.Errorf("%s Dockerfile: ends in a continuation, or has no FROM", name)
	}
	return copies
}
