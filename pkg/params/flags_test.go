package params

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/cli"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

type paramCmd struct {
	Flags
	DryRun bool `name:"dry-run" aliases:"dry_run" default:"true" negatable:""`
	got    map[string]any
	err    error
}

func (c *paramCmd) Run(context.Context) error {
	c.got, c.err = c.Overrides()
	return c.err
}

// The override forms and the typing rule, as both binaries apply them.
func TestParameterOverrides(t *testing.T) {
	schema := filepath.Join(t.TempDir(), "s.json")
	if err := os.WriteFile(schema, []byte(`{"properties": {"window": {"type": "integer"}, "label": {"type": "string"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want map[string]any
		code int
		msg  string
	}{
		{"none", nil, map[string]any{}, 0, ""},
		{"--param typed without a schema", []string{"--param", "a=1", "--param", "b=True", "--param", "c=None", "--param", "d=x,y"},
			map[string]any{"a": json.Number("1"), "b": true, "c": nil, "d": "x,y"}, 0, ""},
		{"--param typed by the schema", []string{"--parameter_schema=" + schema, "--param", "window=2.0", "--param", "label=5"},
			map[string]any{"window": int64(2), "label": "5"}, 0, ""},
		{"bare schema property", []string{"--parameter_schema=" + schema, "--window=3", "--label", "x"},
			map[string]any{"window": int64(3), "label": "x"}, 0, ""},
		{"empty bare property is unset", []string{"--parameter_schema=" + schema, "--window="}, map[string]any{}, 0, ""},
		{"JSON object", []string{`--parameter_overrides={"a": [1], "b": null}`}, map[string]any{"a": []any{json.Number("1")}, "b": nil}, 0, ""},
		{"later forms win", []string{"--parameter_schema=" + schema, `--parameter_overrides={"window": 1}`, "--param", "window=2", "--window=3"},
			map[string]any{"window": int64(3)}, 0, ""},
		{"JSON not an object", []string{"--parameter_overrides=[1]"}, nil, fault.ExitUsage, "--parameter_overrides"},
		{"--param without =", []string{"--param", "window"}, nil, fault.ExitUsage, `--param "window": want key=value`},
		{"badly typed", []string{"--parameter_schema=" + schema, "--window=x"}, nil, fault.ExitUsage, `"window"`},
		{"unknown without a schema", []string{"--window=3"}, nil, fault.ExitUsage, "--param window=<value>"},
		{"misspelled flag", []string{"--parameter_schema=" + schema, "--dry_rn=0"}, nil, fault.ExitUsage, "did you mean --dry_run?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := &paramCmd{}
			var stderr bytes.Buffer
			code := cli.Main("t", "test", cmd, tt.args, &stderr, cmd.Filter())
			if code != tt.code || !strings.Contains(stderr.String(), tt.msg) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, tt.code, stderr.String(), tt.msg)
			}
			if tt.code == 0 && !reflect.DeepEqual(cmd.got, tt.want) {
				t.Fatalf("overrides %#v, want %#v", cmd.got, tt.want)
			}
		})
	}
}

func TestNearest(t *testing.T) {
	flags := []string{"dry_run", "dry-run", "code_name", "help", "window"}
	for name, want := range map[string]string{"dry_rn": "dry_run", "code_nam": "code_name", "windw": "window"} {
		if got := nearest(name, flags); got != " (did you mean --"+want+"?)" {
			t.Errorf("nearest(%q) = %q, want --%s", name, got, want)
		}
	}
	if got := nearest("hel", flags); strings.Contains(got, "--help") {
		t.Errorf("nearest suggests --help, which is never a misspelling target: %q", got)
	}
	if got := nearest("x", nil); got != "" {
		t.Errorf("nearest with no candidates = %q", got)
	}
}
