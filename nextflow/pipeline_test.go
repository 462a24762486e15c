package nextflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/clitest"
	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/devstacktest"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/params"
)

var bins map[string]string

func TestMain(m *testing.M) {
	var cleanup func()
	// aind-foraging: the test_foraging profile's analysis (TestNextflowForaging), on the
	// pipeline's PATH with the other two.
	bins, cleanup = clitest.Build("../cmd/aind-dispatch", "../cmd/aind-wrapper", "../cmd/aind-foraging")
	code := devstacktest.Main(m)
	cleanup()
	stopSlurmCluster() // the SLURM cluster slurm_test.go started, if it did
	if nxfHome != "" {
		_ = os.RemoveAll(nxfHome) // Nextflow's home for these runs (nextflow_test.go)
	}
	os.Exit(code)
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// scriptLines returns, per process, the command line of its script: block.
func scriptLines(t *testing.T) map[string]string {
	t.Helper()
	main := read(t, "main.nf")
	re := regexp.MustCompile(`(?s)process (\w+) \{.*?\n    script:\n    """\n(.*?)\n    """`)
	out := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(main, -1) {
		lines := strings.Split(strings.TrimSpace(m[2]), "\n")
		if len(lines) != 1 {
			t.Fatalf("process %s: script has %d lines, want one command line", m[1], len(lines))
		}
		out[m[1]] = strings.TrimSpace(lines[0])
	}
	if len(out) != 2 || out["DISPATCH"] == "" || out["WRAPPER"] == "" {
		t.Fatalf("found scripts %v, want DISPATCH and WRAPPER", out)
	}
	return out
}

type schemaProp struct {
	Type     any   `json:"type"`
	Default  any   `json:"default"`
	Examples []any `json:"examples"`
}

func schemaProps(t *testing.T) map[string]schemaProp {
	t.Helper()
	var s struct {
		Defs map[string]struct {
			Properties map[string]schemaProp `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal([]byte(read(t, "nextflow_schema.json")), &s); err != nil {
		t.Fatal(err)
	}
	props := map[string]schemaProp{}
	for _, d := range s.Defs {
		for k, v := range d.Properties {
			props[k] = v
		}
	}
	return props
}

// manifest returns the manifest block's values of nextflow.config.
func manifest(t *testing.T) map[string]string {
	re := regexp.MustCompile(`(?m)^\s+(\w+)\s*=\s*'([^']*)'`)
	block := between(t, read(t, "nextflow.config"), "manifest {", "\n}")
	out := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(block, -1) {
		out[m[1]] = m[2]
	}
	return out
}

func between(t *testing.T, s, start, end string) string {
	t.Helper()
	i := strings.Index(s, start)
	if i < 0 {
		t.Fatalf("%q not found", start)
	}
	j := strings.Index(s[i:], end)
	if j < 0 {
		t.Fatalf("end of %q not found", start)
	}
	return s[i : i+j]
}

// configParams parses `name = value` lines of a params block (or `params.name = value`
// lines of a profile) into Go values.
func configParams(t *testing.T, block string, prefix string) map[string]any {
	t.Helper()
	re := regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(prefix) + `(\w+)\s*=\s*(.+?)\s*$`)
	out := map[string]any{}
	for _, m := range re.FindAllStringSubmatch(block, -1) {
		v := m[2]
		switch {
		case v == "null":
			out[m[1]] = nil
		case v == "true" || v == "false":
			out[m[1]] = v == "true"
		case strings.HasPrefix(v, "'") || strings.HasPrefix(v, `"`):
			out[m[1]] = strings.Trim(v, `'"`)
		default:
			var n float64
			if _, err := fmt.Sscan(v, &n); err != nil {
				t.Fatalf("param %s: cannot read value %s", m[1], v)
			}
			out[m[1]] = n
		}
	}
	return out
}

var interpolation = regexp.MustCompile(`\$\{([a-zA-Z_.]+)\}`)

// interpolate substitutes ${params.X} and ${workflow.manifest.X} like Nextflow would.
func interpolate(t *testing.T, line string, values map[string]any, man map[string]string) string {
	t.Helper()
	return interpolation.ReplaceAllStringFunc(line, func(tok string) string {
		name := interpolation.FindStringSubmatch(tok)[1]
		switch {
		case strings.HasPrefix(name, "params."):
			v, ok := values[strings.TrimPrefix(name, "params.")]
			if !ok {
				t.Fatalf("%s has no value", name)
			}
			if v == nil {
				return "null"
			}
			return fmt.Sprint(v)
		case strings.HasPrefix(name, "workflow.manifest."):
			return man[strings.TrimPrefix(name, "workflow.manifest.")]
		}
		t.Fatalf("unknown interpolation %s in a script", tok)
		return ""
	})
}

// shellWords splits a command line like bash for the quoting main.nf uses (single quotes).
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	quoted, inWord := false, false
	for _, r := range line {
		switch {
		case r == '\'':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

func TestScriptCommandLinesParseWithOurCLIs(t *testing.T) {
	props := schemaProps(t)
	man := manifest(t)
	for _, variant := range []string{"defaults", "examples"} {
		values := map[string]any{}
		for k, p := range props {
			values[k] = p.Default
			if variant == "examples" && len(p.Examples) > 0 {
				values[k] = p.Examples[0]
			}
		}
		for process, line := range scriptLines(t) {
			t.Run(variant+"/"+process, func(t *testing.T) {
				words := shellWords(interpolate(t, line, values, man))
				bin, ok := bins[words[0]]
				if !ok {
					t.Fatalf("script of %s runs %q, not one of our binaries", process, words[0])
				}
				args := append([]string{"--parse-only"}, words[1:]...)
				out, err := exec.Command(bin, args...).CombinedOutput()
				if err != nil {
					t.Fatalf("%s %s\n does not parse: %v\n%s", words[0], strings.Join(words[1:], " "), err, out)
				}
			})
		}
	}
	t.Run("a wrong flag is caught", func(t *testing.T) {
		out, err := exec.Command(bins["aind-dispatch"], "--parse-only", "--tasks_per_job=many").CombinedOutput()
		if err == nil {
			t.Fatalf("--parse-only accepted a non-integer: %s", out)
		}
	})
	// Mutations of main.nf's own lines: a misspelled flag, with a value or empty (as an
	// unset param reaches the binary), must fail the parse in both processes; a wrapper
	// flag that is not a flag would otherwise become an analysis parameter.
	values := map[string]any{}
	for k, p := range props {
		values[k] = p.Default
	}
	lines := scriptLines(t)
	for _, m := range []struct{ process, flag, typo string }{
		{"WRAPPER", "--dry_run=", "--dry_rn="},
		{"WRAPPER", "--code_name=", "--code_nam="},
		{"WRAPPER", "--parameter_overrides=", "--parameter_overide="},
		{"DISPATCH", "--split_files=", "--split_file="},
		{"DISPATCH", "--code_name=", "--code_nam="},
	} {
		t.Run("misspelled "+m.process+" flag "+m.typo, func(t *testing.T) {
			line := lines[m.process]
			if strings.Count(line, " "+m.flag) != 1 {
				t.Fatalf("main.nf's %s line has no single %s", m.process, m.flag)
			}
			words := shellWords(interpolate(t, strings.Replace(line, " "+m.flag, " "+m.typo, 1), values, man))
			out, err := exec.Command(bins[words[0]], append([]string{"--parse-only"}, words[1:]...)...).CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), strings.TrimSuffix(m.typo, "=")) {
				t.Fatalf("%s with %s: %v (want exit 2 naming it)\n%s", m.process, m.typo, err, out)
			}
		})
	}
}

func TestEveryParamIsDocumentedAndDeclared(t *testing.T) {
	props := schemaProps(t)
	config := read(t, "nextflow.config")
	declared := configParams(t, between(t, config, "params {", "\n}"), "")
	used := map[string]bool{}
	files := []string{"main.nf", "nextflow.config"}
	extra, _ := filepath.Glob("../nextflow/*.config")
	for _, f := range extra {
		files = append(files, strings.TrimPrefix(f, "../"))
	}
	re := regexp.MustCompile(`params\.(\w+)`)
	for _, f := range files {
		for _, m := range re.FindAllStringSubmatch(read(t, f), -1) {
			used[m[1]] = true
		}
	}
	var missing []string
	for p := range used {
		if _, ok := props[p]; !ok {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("params used but not in nextflow_schema.json: %v", missing)
	}
	for name, p := range props {
		v, ok := declared[name]
		if !ok {
			t.Errorf("schema param %s is not declared in nextflow.config's params block", name)
			continue
		}
		want := p.Default
		if f, isNum := want.(float64); isNum {
			want = f
		}
		if fmt.Sprint(v) != fmt.Sprint(want) {
			t.Errorf("param %s: nextflow.config default %v, schema default %v", name, v, want)
		}
	}
	for name := range declared {
		if _, ok := props[name]; !ok {
			t.Errorf("nextflow.config declares %s, which the schema does not describe", name)
		}
	}
}

func TestSchemaIsValidAndAcceptsItsDefaults(t *testing.T) {
	s, err := params.LoadSchema("../nextflow_schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defaults := map[string]any{}
	for k, p := range schemaProps(t) {
		defaults[k] = p.Default
	}
	if err := s.Validate("defaults", defaults); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate("params", map[string]any{"tasks_per_job": 0}); err == nil || !strings.Contains(err.Error(), "tasks_per_job") {
		t.Fatalf("schema accepts tasks_per_job=0: %v", err)
	}
}
