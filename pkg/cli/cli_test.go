package cli

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

type testCmd struct {
	Globals
	Fields FieldList `name:"group-by" aliases:"group_by" env:"TEST_GROUP_BY"`
	Flag   bool      `name:"use-csv" aliases:"use_csv"`
	err    error
	got    *testCmd
}

func (c *testCmd) Run(ctx context.Context) error {
	*c.got = *c
	return c.err
}

func TestMainParsesCodeOceanForms(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  string
		want []string
		flag bool
	}{
		{"comma list", []string{"--group-by", "a.b,c"}, "", []string{"a.b", "c"}, false},
		{"snake case and =1", []string{"--group_by=a.b", "--use_csv=1"}, "", []string{"a.b"}, true},
		{"repeated", []string{"--group-by=a", "--group-by=b"}, "", []string{"a", "b"}, false},
		{"json list", []string{`--group_by=["a.b", "c"]`}, "", []string{"a.b", "c"}, false},
		{"empty app-panel value", []string{"--group_by="}, "", nil, false},
		{"env", nil, "x,y", []string{"x", "y"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("TEST_GROUP_BY", tt.env)
			}
			var got testCmd
			cmd := &testCmd{got: &got}
			var stderr bytes.Buffer
			if code := Main("t", "test", cmd, tt.args, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			if !reflect.DeepEqual([]string(got.Fields), tt.want) && !(len(got.Fields) == 0 && len(tt.want) == 0) {
				t.Fatalf("fields = %q, want %q", got.Fields, tt.want)
			}
			if got.Flag != tt.flag {
				t.Fatalf("flag = %v", got.Flag)
			}
		})
	}
}

func TestMainExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		err  error
		want int
	}{
		{"ok", nil, nil, fault.ExitOK},
		{"unknown flag", []string{"--nope"}, nil, fault.ExitUsage},
		{"bad bool", []string{"--use_csv=maybe"}, nil, fault.ExitUsage},
		{"transient", nil, fault.Transient(errors.New("s3 down")), fault.ExitTransient},
		{"usage from run", nil, fault.Usagef("bad query"), fault.ExitUsage},
		{"failed", nil, errors.New("boom"), fault.ExitFailed},
		{"interrupted", nil, context.Canceled, fault.ExitInterrupted},
		{"help", []string{"--help"}, nil, fault.ExitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got testCmd
			var stderr bytes.Buffer
			code := Main("t", "test", &testCmd{got: &got, err: tt.err}, tt.args, &stderr)
			if code != tt.want {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tt.want, stderr.String())
			}
			if tt.err != nil && !strings.Contains(stderr.String(), "t: ") {
				t.Fatalf("error not reported on stderr: %q", stderr.String())
			}
		})
	}
}

func TestParseOnly(t *testing.T) {
	var got testCmd
	var stderr bytes.Buffer
	// Run would fail; --parse-only must not call it.
	if code := Main("t", "test", &testCmd{got: &got, err: errors.New("ran")}, []string{"--group_by=a", "--parse-only"}, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if got.Fields != nil {
		t.Fatal("Run was called under --parse-only")
	}
	if code := Main("t", "test", &testCmd{got: &got}, []string{"--parse-only", "--use_csv=maybe"}, &stderr); code != fault.ExitUsage {
		t.Fatalf("a bad value passed --parse-only: exit %d", code)
	}
}
