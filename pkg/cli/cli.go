// Package cli owns what every aind-* binary, and every Go analysis built with
// wrapper.Main, does around its command: a kong parser with the project's rules (an empty
// value means unset, --parse-only), a context that SIGINT/SIGTERM cancel, the logger, the
// version stamp, list-valued flags that accept the Code Ocean forms, and turning the
// command's error into the documented exit code. The flag groups the binaries share live
// with what they configure: identity.CodeFlags, docdb.ConnectionFlags, params.Flags.
package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"reflect"
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

// Main parses args into cmd with kong (description is the --help text under the usage
// line, with the binary's exit-code table), runs it with a context cancelled by SIGINT or
// SIGTERM, reports a failure on stderr and returns the exit code. cmd must have a
// Run(ctx context.Context) error method or kong subcommands with one. filters, if any,
// rewrite args first.
func Main(name, description string, cmd any, args []string, stderr io.Writer, filters ...ArgsFilter) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	parser, err := NewParser(ctx, name, description, cmd)
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
		args = JoinBoolValues(parser, DropEmpty(parser, args))
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

// NewParser is the kong parser Main uses for cmd: description (which ends with the
// binary's fault.ExitCodes table), the help printer that shows snake_case flag names (see
// HelpPrinter), the project's mappers (an empty path stays empty), the version variable, ctx bound for Run methods, and kong's exits turned
// into a panic that Main recovers, and the options of a cmd that is an Extended. Tests use
// it to inspect a binary's flags.
func NewParser(ctx context.Context, name, description string, cmd any) (*kong.Kong, error) {
	opts := []kong.Option{
		kong.Name(name),
		kong.Description(description),
		kong.Help(HelpPrinter),
		kong.Vars{"version": Version},
		kong.BindTo(ctx, (*context.Context)(nil)),
		kong.UsageOnError(),
		kong.Exit(func(code int) { panic(exitCode(code)) }),
		kong.NamedMapper("path", pathMapper{}),
	}
	if e, ok := cmd.(Extended); ok {
		opts = append(opts, e.KongOptions()...)
	}
	return kong.New(cmd, opts...)
}

// Extended is a command that adds kong options to its parser, such as kong.Embed of flags
// defined at run time (a Go analysis' own flags beside the wrapper's).
type Extended interface {
	KongOptions() []kong.Option
}

// DropEmpty applies the rule "an empty value means not set" to every flag of every binary:
// Nextflow passes every pipeline param on every task and the config's defaults are empty strings, and
// Code Ocean's app panel passes unset fields as empty strings. Before "--" it removes each
// --name= argument of a known flag and each --name "" pair of a known flag that takes a
// value, so the flag's environment variable or default applies. An unknown --name= stays,
// so that a misspelled flag is still reported (or, for a command with ParameterFlags,
// checked against the parameter schema and then ignored as an unset parameter). It also
// stops an environment variable that is set but empty from counting as set (kong would parse
// "" as the value). It returns the arguments left; parser's model is changed in place.
func DropEmpty(parser *kong.Kong, args []string) []string {
	takesValue := map[string]bool{}
	eachFlag(parser, func(f *kong.Flag) {
		var envs []string
		for _, e := range f.Tag.Envs {
			if v, ok := os.LookupEnv(e); !ok || v != "" {
				envs = append(envs, e)
			}
		}
		f.Tag.Envs = envs
		if !f.IsBool() && !f.IsCounter() {
			for _, n := range append([]string{f.Name}, f.Aliases...) {
				takesValue[n] = true
			}
		}
	})
	known := FlagNames(parser)
	kept := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(kept, args[i:]...)
		}
		if strings.HasPrefix(a, "--") {
			name, value, hasValue := strings.Cut(a[2:], "=")
			if hasValue && value == "" && known[name] {
				continue
			}
			if !hasValue && takesValue[name] && i+1 < len(args) && args[i+1] == "" {
				i++
				continue
			}
		}
		kept = append(kept, a)
	}
	return kept
}

// pathMapper is kong's "path" mapper (the value with ~ expanded, made absolute) except that
// an empty value stays empty: kong's own turns "" into the working directory, so
// --parameter_schema= (empty) read the task folder as a schema file.
type pathMapper struct{}

// Decode implements kong.Mapper.
func (pathMapper) Decode(ctx *kong.DecodeContext, target reflect.Value) error {
	var path string
	if err := ctx.Scan.PopValueInto("path", &path); err != nil {
		return err
	}
	if path != "" {
		path = kong.ExpandPath(path)
	}
	target.SetString(path)
	return nil
}

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
	eachFlag(parser, func(f *kong.Flag) {
		for _, n := range append([]string{f.Name}, f.Aliases...) {
			names[n] = true
		}
		if f.Tag != nil && f.Tag.Negatable != "" {
			names["no-"+f.Name] = true
		}
	})
	return names
}

// eachFlag calls fn for every flag of every command of parser's model.
func eachFlag(parser *kong.Kong, fn func(f *kong.Flag)) { eachNodeFlag(parser.Model.Node, fn) }

// eachNodeFlag calls fn for every flag of n and of the commands below it.
func eachNodeFlag(n *kong.Node, fn func(f *kong.Flag)) {
	for _, f := range n.Flags {
		fn(f)
	}
	for _, c := range n.Children {
		eachNodeFlag(c, fn)
	}
}
