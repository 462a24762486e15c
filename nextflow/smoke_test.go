package nextflow

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/devstacktest"
)

const toolsImage = "aind-tools:latest"

// testProfile returns the params of the test profile over the schema defaults, with
// ${projectDir} resolved to the repository root.
func testProfile(t *testing.T, root string) map[string]any {
	t.Helper()
	values := map[string]any{}
	for k, p := range schemaProps(t) {
		values[k] = p.Default
	}
	profile := between(t, read(t, "nextflow.config"), "    test {", "\n    }")
	for k, v := range configParams(t, profile, "params.") {
		if s, ok := v.(string); ok {
			v = strings.ReplaceAll(s, "${projectDir}", root)
		}
		values[k] = v
	}
	return values
}

// copyTree copies src into dst (created), following Nextflow's copy staging.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-rL", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp %s %s: %v\n%s", src, dst, err, out)
	}
}

// runTask runs one process script in the image the way Nextflow's docker executor does:
// the task folder mounted at its own path as the working directory, bash running the
// script, the whitelisted environment passed through, host networking for the devstack.
func runTask(t *testing.T, image, dir, script string, env map[string]string) string {
	t.Helper()
	args := []string{"run", "--rm", "--network", "host", "-v", dir + ":" + dir, "-w", dir}
	for k, v := range env {
		args = append(args, "-e", k+"="+v)
	}
	args = append(args, image, "bash", "-c", script)
	var out bytes.Buffer
	cmd := exec.Command("docker", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("task in %s failed: %v\nscript: %s\n%s", dir, err, script, out.String())
	}
	return out.String()
}

// TestSmokeRunInImages runs the pipeline on the bundled sample data against the devstack:
// with `nextflow run . -profile test,docker` when Nextflow is installed, else by executing
// the same process scripts in the built images, staging exactly as Nextflow does
// (inputs under data/, each dispatch folder flattened into its own task as data/job_dict,
// the analysis code as code/, results/* published to the outdir).
func TestSmokeRunInImages(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Docker and the images built by containers/build")
	}
	if out, err := exec.Command("docker", "image", "inspect", toolsImage).CombinedOutput(); err != nil {
		t.Fatalf("image %s is missing: run containers/build first (%v)\n%s", toolsImage, err, out)
	}
	ds := devstacktest.Get(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	outdir := filepath.Join(work, "outdir")
	db := ds.NewDatabase(t)
	env := map[string]string{}
	for k, v := range ds.Vars {
		env[k] = v
	}
	env["DOCDB_DATABASE"], env["DOCDB_COLLECTION"] = db, "smoke"
	env["ANALYSIS_BUCKET"] = "s3://" + ds.NewBucket(t)
	env["CODEOCEAN_EMAIL"] = "smoke@example.org"

	if nf, err := exec.LookPath("nextflow"); err == nil {
		cmd := exec.Command(nf, "run", root, "-profile", "test,docker", "--outdir", outdir)
		cmd.Dir = work
		cmd.Env = os.Environ()
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nextflow run: %v\n%s", err, out)
		}
	} else {
		p := testProfile(t, root)
		man := manifest(t)
		scripts := scriptLines(t)
		inputs, err := filepath.Glob(filepath.Join(p["input"].(string), "*"))
		if err != nil || len(inputs) == 0 {
			t.Fatalf("no input files in %v", p["input"])
		}
		stageInputs := func(task string) {
			must(t, os.MkdirAll(filepath.Join(task, "data"), 0o755))
			for _, in := range inputs {
				copyTree(t, in, filepath.Join(task, "data", filepath.Base(in)))
			}
		}
		// DISPATCH
		dispatchDir := filepath.Join(work, "work", "dispatch")
		stageInputs(dispatchDir)
		copyTree(t, p["analysis_code"].(string), filepath.Join(dispatchDir, "code"))
		runTask(t, toolsImage, dispatchDir, interpolate(t, scripts["DISPATCH"], p, man), env)
		// .flatten().filter { it.isDirectory() }
		emitted, _ := filepath.Glob(filepath.Join(dispatchDir, "results", "*"))
		var folders []string
		for _, e := range emitted {
			if st, err := os.Stat(e); err == nil && st.IsDir() {
				folders = append(folders, e)
			}
		}
		if len(folders) != 3 {
			t.Fatalf("dispatch emitted %v, want 3 task folders (one per mouse)", emitted)
		}
		// WRAPPER, one task per folder, results/* published to the outdir (mode copy).
		must(t, os.MkdirAll(outdir, 0o755))
		for _, f := range folders {
			task := filepath.Join(work, "work", "wrapper-"+filepath.Base(f))
			stageInputs(task)
			copyTree(t, f, filepath.Join(task, "data", "job_dict"))
			copyTree(t, p["analysis_code"].(string), filepath.Join(task, "code"))
			runTask(t, p["analysis_container"].(string), task, interpolate(t, scripts["WRAPPER"], p, man), env)
			results, _ := filepath.Glob(filepath.Join(task, "results", "*"))
			for _, r := range results {
				copyTree(t, r, filepath.Join(outdir, filepath.Base(r)))
			}
		}
	}

	published, _ := filepath.Glob(filepath.Join(outdir, "*", "metadata.nd.json"))
	if len(published) != 3 {
		t.Fatalf("published results %v, want 3 (one per mouse)", published)
	}
	for _, m := range published {
		if _, err := os.Stat(filepath.Join(filepath.Dir(m), "report.txt")); err != nil {
			t.Fatalf("result %s lacks the analysis' report", filepath.Dir(m))
		}
	}
	c := ds.Mongo(t)
	n, err := c.Database(db).Collection("smoke").CountDocuments(context.Background(), bson.D{})
	if err != nil || n != 3 {
		t.Fatalf("%d records in DocDB (%v), want 3", n, err)
	}
	for _, m := range published {
		hash := filepath.Base(filepath.Dir(m))
		if n, _ := c.Database(db).Collection("smoke").CountDocuments(context.Background(), bson.D{{Key: "_id", Value: hash}}); n != 1 {
			t.Fatalf("published result %s has no record", hash)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
