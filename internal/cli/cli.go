// Package cli owns what every aind-* binary does around its command: a context that
// SIGINT/SIGTERM cancel, the logger, the version stamp, list-valued flags that accept the
// Code Ocean forms, and turning the command's error into the documented exit code.
package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"
	"github.com/rs/zerolog"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/logs"
)

// Version is the build's version, stamped with -ldflags "-X ...cli.Version=v1.2.3".
var Version = "dev"

// Globals are the flags every binary has.
type Globals struct {
	LogLevel string           `name:"log-level" aliases:"log_level" env:"AIND_LOG_LEVEL" default:"info" enum:"debug,info,warn,error" help:"Log level (${enum})."`
	Version  kong.VersionFlag `name:"version" help:"Print the version and exit."`
}

// Logger returns the stderr logger at the chosen level.
func (g Globals) Logger() zerolog.Logger { return logs.New(os.Stderr, g.LogLevel) }

// ArgsFilter rewrites the arguments before kong parses them, knowing the parser's flags.
type ArgsFilter func(parser *kong.Kong, args []string) []string

// Main parses args into cmd with kong, runs it with a context cancelled by SIGINT or
// SIGTERM, reports a failure on stderr and returns the exit code. cmd must have a
// Run(ctx context.Context) error method or kong subcommands with one. filters, if any,
// rewrite args first.
func Main(name, description string, cmd any, args []string, stderr io.Writer, filters ...ArgsFilter) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	parser, err := kong.New(cmd,
		kong.Name(name),
		kong.Description(description+"\n\n"+fault.ExitCodeHelp),
		kong.Vars{"version": Version},
		kong.BindTo(ctx, (*context.Context)(nil)),
		kong.UsageOnError(),
		kong.Exit(func(code int) { panic(exitCode(code)) }),
	)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return fault.ExitUsage
	}
	code := func() (code int) {
		defer func() {
			if r := recover(); r != nil {
				c, ok := r.(exitCode)
				if !ok {
					panic(r)
				}
				code = int(c)
			}
		}()
		args, parseOnly := cutParseOnly(args)
		for _, f := range filters {
			args = f(parser, args)
		}
		kctx, err := parser.Parse(args)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return fault.ExitUsage
		}
		if parseOnly {
			return fault.ExitOK
		}
		if err := kctx.Run(); err != nil {
			code := fault.ExitCode(err)
			if code == fault.ExitInterrupted {
				fmt.Fprintf(stderr, "%s: interrupted\n", name)
			} else {
				fmt.Fprintf(stderr, "%s: %v\n", name, err)
			}
			return code
		}
		return fault.ExitOK
	}()
	return code
}

type exitCode int

// ParseOnlyFlag, anywhere before "--", makes Main parse the arguments (flag names, types,
// enums) and exit 0 without running anything: the pipeline tests check main.nf's command
// lines with it.
const ParseOnlyFlag = "--parse-only"

func cutParseOnly(args []string) ([]string, bool) {
	for i, a := range args {
		if a == "--" {
			break
		}
		if a == ParseOnlyFlag {
			return append(append([]string{}, args[:i]...), args[i+1:]...), true
		}
	}
	return args, false
}

// FieldList is a list-valued flag that accepts what users pass: repeated flags, a
// comma-separated list, or a JSON array (the form pydantic-settings and Code Ocean app
// panels use). Empty entries are dropped, so an empty app-panel field means no list.
type FieldList []string

// Decode implements kong.MapperValue.
func (f *FieldList) Decode(ctx *kong.DecodeContext) error {
	var raw string
	if err := ctx.Scan.PopValueInto("list", &raw); err != nil {
		return err
	}
	raw = strings.TrimSpace(raw)
	var items []string
	if strings.HasPrefix(raw, "[") {
		if err := json.Unmarshal([]byte(raw), &items); err != nil {
			return fmt.Errorf("%q is not a JSON list of strings: %w", raw, err)
		}
	} else {
		items = strings.Split(raw, ",")
	}
	for _, it := range items {
		if it = strings.TrimSpace(it); it != "" {
			*f = append(*f, it)
		}
	}
	return nil
}

// FlagNames returns every long flag name the parser accepts (names, aliases, negations),
// across all commands.
func FlagNames(parser *kong.Kong) map[string]bool {
	names := map[string]bool{"help": true}
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		for _, f := range n.Flags {
			names[f.Name] = true
			for _, a := range f.Aliases {
				names[a] = true
			}
			if f.Tag != nil && f.Tag.Negatable != "" {
				names["no-"+f.Name] = true
			}
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(parser.Model.Node)
	return names
}
