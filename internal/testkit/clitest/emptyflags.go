package clitest

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/cli"
)

// EmptyFlagsAreUnset checks the rule "an empty value means not set" on every flag of a
// command, the way Nextflow passes them (an empty param reaches the binary as --name=): newCmd
// returns a fresh command struct, command selects a subcommand (nil for none) and
// positional fills required arguments. With every flag's environment variable unset, it
// parses command+positional alone, then with --name= for every flag and every alias, and
// requires the two commands to be equal; then it sets every environment variable to "" and
// requires the same again. A flag that kong would expand, reject or set from "" fails it.
func EmptyFlagsAreUnset(t *testing.T, newCmd func() any, command, positional []string) {
	t.Helper()
	parse := func(args []string) any {
		t.Helper()
		cmd := newCmd()
		parser, err := cli.NewParser(context.Background(), "test", "test", cmd)
		if err != nil {
			t.Fatal(err)
		}
		args = cli.DropEmpty(parser, args)
		if _, err := parser.Parse(args); err != nil {
			t.Fatalf("parse %q: %v", args, err)
		}
		return cmd
	}
	parser, err := cli.NewParser(context.Background(), "test", "test", newCmd())
	if err != nil {
		t.Fatal(err)
	}
	var names, envs []string
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		for _, f := range n.Flags {
			if f.Name == "help" || f.Name == "version" {
				continue
			}
			names = append(names, f.Name)
			names = append(names, f.Aliases...)
			envs = append(envs, f.Tag.Envs...)
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(parser.Model.Node)
	if len(names) == 0 {
		t.Fatal("the command has no flags")
	}
	for _, e := range envs {
		if v, ok := os.LookupEnv(e); ok {
			t.Cleanup(func() { os.Setenv(e, v) })
			os.Unsetenv(e)
		}
	}
	base := append(append([]string{}, command...), positional...)
	want := parse(base)

	args := append([]string{}, command...)
	for _, n := range names {
		args = append(args, "--"+n+"=")
	}
	args = append(args, positional...)
	if got := parse(args); !reflect.DeepEqual(got, want) {
		t.Errorf("with every flag empty (%s):\n got %+v\nwant %+v", strings.Join(names, ", "), got, want)
	}
	for _, e := range envs {
		t.Setenv(e, "")
	}
	if got := parse(base); !reflect.DeepEqual(got, want) {
		t.Errorf("with every flag's environment variable empty (%s):\n got %+v\nwant %+v", strings.Join(envs, ", "), got, want)
	}
}
