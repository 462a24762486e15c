package conformance

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/cmdline/dispatchcmd"
	"github.com/allenneuraldynamics/aind-analysis-go/internal/cmdline/resultscmd"
	"github.com/allenneuraldynamics/aind-analysis-go/internal/cmdline/wrappercmd"
	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/devstacktest"
	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/upstreamtest"
)

// TestUpstreamRecordsAreDone has analysis-pipeline-utils' own wrapper code
// (testdata/upstream/upstream_wrapper.py) record results for the jobs aind-dispatch wrote,
// into the devstack through MetadataDbClient, then checks that for the same code,
// parameters and inputs aind-dispatch writes no job and aind-wrapper skips every job as
// done (nothing recomputed), through the Mongo driver and the gateway; and that changed
// parameters are not taken for done.
func TestUpstreamRecordsAreDone(t *testing.T) {
	upstreamtest.Venv(t)
	env := devstacktest.Get(t)
	db, bucket := env.NewDatabase(t), env.NewBucket(t)
	for k, v := range env.Vars {
		t.Setenv(k, v)
	}
	in := t.TempDir()
	fixed := map[string]any{"analysis_name": "migrated", "cutoff": 0.5, "bins": []any{1, 2, 3}}
	b, _ := json.Marshal(map[string]any{"fixed_parameters": fixed, "distributed_parameters": []any{map[string]any{"alpha": 1}, map[string]any{"alpha": 2.5}}})
	write(t, filepath.Join(in, "analysis_parameters.json"), string(b))
	code := map[string]string{"url": "https://github.com/AllenNeuralDynamics/example-analysis", "name": "example-analysis", "version": "1.2", "run_script": "code/run"}
	codeFlags := []string{"--code_url=" + code["url"], "--code_name=" + code["name"], "--code_version=" + code["version"], "--run_script=" + code["run_script"]}
	dispatch := func(t *testing.T, dbFlags []string, extra ...string) []string {
		t.Helper()
		out := filepath.Join(t.TempDir(), "jobs")
		args := append([]string{"--input_directory=" + in, "--output_directory=" + out, "--log-level=warn",
			"--docdb_query={\"data_description.process_name\": \"processed\"}", "--group_by=subject.subject_id",
			"--file_extension=.nwb", "--split_files=0", "--results_database=" + db, "--results_collection=results"}, codeFlags...)
		if code := dispatchcmd.Main(append(append(args, dbFlags...), extra...)); code != 0 {
			t.Fatalf("aind-dispatch exit code %d", code)
		}
		files, _ := filepath.Glob(filepath.Join(out, "*", "*.json"))
		return files
	}
	mongo := []string{"--docdb_uri=" + env.DocDBURI}
	gateway := []string{"--docdb_host=" + env.DocDBHost, "--docdb_version=" + env.DocDBVersion}
	t.Setenv("DOCDB_URI", "")
	t.Setenv("DOCDB_HOST", "")
	jobs := dispatch(t, mongo)
	if len(jobs) != 6 { // 3 subjects with .nwb files x 2 sweep values
		t.Fatalf("first dispatch wrote %d jobs, want 6", len(jobs))
	}

	cfg, _ := json.Marshal(map[string]any{"jobs": jobs, "parameters": fixed, "code": code, "bucket": bucket,
		"results": t.TempDir(), "outputs": map[string]any{"n": 1}})
	cfgFile := filepath.Join(t.TempDir(), "upstream.json")
	write(t, cfgFile, string(cfg))
	res := upstreamtest.Run(t, "", map[string]string{"DOCDB_URI": "", "DOCDB_HOST": strings.TrimPrefix(env.DocDBHost, "http://"),
		"DOCDB_VERSION": env.DocDBVersion, "DOCDB_DATABASE": db, "DOCDB_COLLECTION": "results", "AWS_DEFAULT_REGION": env.Region}, "upstream_wrapper.py", cfgFile)
	if res.Code != 0 || strings.Count(string(res.Stdout), `"hash"`) != len(jobs) {
		t.Fatalf("upstream wrapper exit %d, want %d records:\n%s\n%s", res.Code, len(jobs), res.Stdout, res.Stderr)
	}
	t.Logf("upstream wrote:\n%s", res.Stdout)
	var upstreamHashes []string
	for _, line := range strings.Split(strings.TrimSpace(string(res.Stdout)), "\n") {
		var r struct{ Hash string }
		if json.Unmarshal([]byte(line), &r) == nil && r.Hash != "" {
			upstreamHashes = append(upstreamHashes, r.Hash)
		}
	}

	// One result of ours beside upstream's: other parameters, so it is new work.
	ours := ourRecord(t, in, db, bucket, append(codeFlags, "--param=cutoff=0.7"), mongo, dispatch(t, mongo, "--param", "cutoff=0.7")[0])
	for _, backend := range []struct {
		name  string
		flags []string
	}{{"mongo", mongo}, {"gateway", gateway}} {
		t.Run(backend.name+"/dispatch writes nothing", func(t *testing.T) {
			if again := dispatch(t, backend.flags); len(again) != 0 {
				t.Errorf("dispatch after the upstream run wrote %d jobs, want 0: upstream records not recognised", len(again))
			}
		})
		t.Run(backend.name+"/changed parameters are new work", func(t *testing.T) {
			if changed := dispatch(t, backend.flags, "--param", "cutoff=0.6"); len(changed) != len(jobs) {
				t.Errorf("dispatch with another cutoff wrote %d jobs, want %d", len(changed), len(jobs))
			}
		})
		t.Run(backend.name+"/query lists them beside ours", func(t *testing.T) {
			rows := queryResults(t, append([]string{"--results_database=" + db, "--results_collection=results",
				"--code-name=" + code["name"], "--columns=hash,code_name,code_version,inputs,param.cutoff,param.alpha"}, backend.flags...))
			want := append([]string{ours}, upstreamHashes...)
			for _, h := range want {
				r, ok := rows[h]
				switch {
				case !ok:
					t.Errorf("aind-results query does not list %s; it listed %v", h, keys(rows))
				case r["code_version"] != code["version"] || r["inputs"] == "" || r["param.cutoff"] == "" || r["param.alpha"] == "":
					t.Errorf("aind-results query row of %s lacks what the record holds: %v", h, r)
				}
			}
			if len(rows) != len(want) {
				t.Errorf("aind-results query listed %d records, want %d (6 upstream, 1 ours)", len(rows), len(want))
			}
			if rows := queryResults(t, append([]string{"--results_database=" + db, "--results_collection=results",
				"--param=cutoff=0.5", "--param=alpha=2.5", "--columns=hash"}, backend.flags...)); len(rows) != 3 {
				t.Errorf("aind-results query --param cutoff=0.5 --param alpha=2.5 listed %d upstream records, want 3 (one per mouse): %v", len(rows), keys(rows))
			}
		})
		t.Run(backend.name+"/wrapper skips every job", func(t *testing.T) {
			out := t.TempDir()
			jobDir := t.TempDir()
			for i, j := range jobs {
				b, err := os.ReadFile(j)
				if err != nil {
					t.Fatal(err)
				}
				// As a dispatcher that was not told the code writes them (analysis_code null):
				// the wrapper itself then looks for the Python wrapper's records. A job file
				// that carries the identity was looked up, those records included, by the
				// dispatcher that wrote it (the case above: it writes nothing now), and the
				// wrapper checks only its own records for it (pkg/wrapper's recorded).
				var doc map[string]any
				if err := json.Unmarshal(b, &doc); err != nil {
					t.Fatal(err)
				}
				doc["analysis_code"] = nil
				b, _ = json.Marshal(doc)
				write(t, filepath.Join(jobDir, fmt.Sprintf("job_%d.json", i)), string(b))
			}
			args := append([]string{"run", "--input_directory=" + in, "--job_dict=" + jobDir, "--output_directory=" + out,
				"--scratch_directory=" + t.TempDir(), "--dry_run=0", "--results_database=" + db, "--results_collection=results",
				"--analysis_bucket=s3://" + bucket, "--log-level=warn"}, codeFlags...)
			args = append(append(args, backend.flags...), "--", "sh", "-c", "echo recomputed > \"$AIND_OUTPUT_DIR/recomputed.txt\"")
			if code := wrappercmd.Main(args); code != 0 {
				t.Fatalf("aind-wrapper exit code %d", code)
			}
			skips, _ := filepath.Glob(filepath.Join(out, "skip_*"))
			recomputed, _ := filepath.Glob(filepath.Join(out, "*", "recomputed.txt"))
			if len(skips) != len(jobs) || len(recomputed) != 0 {
				t.Errorf("%d skip markers, %d recomputed results; want %d and 0", len(skips), len(recomputed), len(jobs))
			}
		})
	}
}

// ourRecord runs aind-wrapper on one job file (flags: code, parameters, DocDB) and
// returns the hash of the record it wrote.
func ourRecord(t *testing.T, in, db, bucket string, flags, dbFlags []string, jobFile string) string {
	t.Helper()
	jobDir, out := t.TempDir(), t.TempDir()
	b, err := os.ReadFile(jobFile)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(jobDir, "job.json"), string(b))
	args := append([]string{"run", "--input_directory=" + in, "--job_dict=" + jobDir, "--output_directory=" + out,
		"--scratch_directory=" + t.TempDir(), "--dry_run=0", "--results_database=" + db, "--results_collection=results",
		"--analysis_bucket=s3://" + bucket, "--log-level=warn"}, flags...)
	args = append(append(args, dbFlags...), "--", "sh", "-c", "echo '{\"n\": 2}' > \"$AIND_OUTPUT_DIR/outputs.json\"")
	if code := wrappercmd.Main(args); code != 0 {
		t.Fatalf("aind-wrapper exit code %d", code)
	}
	metas, _ := filepath.Glob(filepath.Join(out, "*", "metadata.nd.json"))
	if len(metas) != 1 {
		t.Fatalf("aind-wrapper wrote %d results, want 1", len(metas))
	}
	return filepath.Base(filepath.Dir(metas[0]))
}

// queryResults runs aind-results query --format jsonl with args and returns its rows by hash.
func queryResults(t *testing.T, args []string) map[string]map[string]string {
	t.Helper()
	outFile := filepath.Join(t.TempDir(), "rows.jsonl")
	if code := resultscmd.Main(append([]string{"query", "--format=jsonl", "--output=" + outFile}, args...)); code != 0 {
		t.Fatalf("aind-results query %v: exit code %d", args, code)
	}
	b, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("aind-results query row %q: %v", line, err)
		}
		row := map[string]string{}
		for k, v := range r {
			if s, ok := v.(string); ok {
				row[k] = s
			} else {
				row[k] = fmt.Sprint(v)
			}
		}
		rows[row["hash"]] = row
	}
	return rows
}

func keys(m map[string]map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
