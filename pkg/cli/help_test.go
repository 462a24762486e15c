package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
)

type helpCmd struct {
	Globals
	Fields FieldList `name:"group-by" aliases:"group_by" help:"Fields."`
	DryRun bool      `name:"dry-run" aliases:"dry_run" default:"true" negatable:"" help:"Dry."`
	Own    string    `name:"own-flag" help:"A flag with no snake_case alias keeps its name."`
	got    *helpCmd
}

func (c *helpCmd) Run(context.Context) error {
	*c.got = *c
	return nil
}

// captureStdout runs f with os.Stdout redirected (kong writes help to it) and returns
// what f wrote.
func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	f()
	os.Stdout = old
	w.Close()
	return <-done
}

// The help shows the snake_case names (the README's, Code Ocean's, Nextflow's), says the
// kebab-case ones work too, and leaves both accepted afterwards.
func TestHelpShowsSnakeCaseNames(t *testing.T) {
	var got helpCmd
	var stderr bytes.Buffer
	var code int
	out := captureStdout(t, func() {
		code = Main("t", "test", &helpCmd{got: &got}, []string{"--help"}, &stderr)
	})
	if code != 0 {
		t.Fatalf("--help: exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"--log_level=", "--group_by=", "--dry_run[=false]", "--own-flag=",
		"Flags are also accepted in kebab-case: --log-level for --log_level,\n--no-dry-run for --dry_run=false."} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
	for _, unwanted := range []string{"--group-by", "--[no-]dry", "--log-level="} {
		if strings.Contains(out, unwanted) {
			t.Errorf("help shows %q:\n%s", unwanted, out)
		}
	}

	for _, args := range [][]string{{"--group-by=a", "--no-dry-run"}, {"--group_by=a", "--dry_run=false"}} {
		got = helpCmd{}
		parser, err := NewParser(context.Background(), "t", "test", &helpCmd{got: &got})
		if err != nil {
			t.Fatal(err)
		}
		captureStdout(t, func() {
			defer func() {
				if _, ok := recover().(exitCode); !ok {
					t.Error("--help did not exit")
				}
			}()
			_, _ = parser.Parse([]string{"--help"})
		})
		kctx, err := parser.Parse(args)
		if err != nil {
			t.Fatalf("after --help, %q does not parse: %v", args, err)
		}
		if err := kctx.Run(); err != nil {
			t.Fatal(err)
		}
		if len(got.Fields) != 1 || got.DryRun {
			t.Errorf("%q after --help: group_by %q, dry_run %v", args, got.Fields, got.DryRun)
		}
	}
}
