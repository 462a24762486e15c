package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/alecthomas/kong"
)

// HelpPrinter is kong's help with each flag shown by its snake_case alias, the spelling of
// Code Ocean app panels, Nextflow params and the README (--docdb_query, not --docdb-query),
// and a negatable boolean shown the way it is turned off in that spelling
// (--dry_run[=false]). A line under the flags says that the kebab-case names are accepted
// too. Parsing is unchanged: the names are swapped only while the help is written.
func HelpPrinter(options kong.HelpOptions, ctx *kong.Context) error {
	type saved struct {
		flag      *kong.Flag
		name      string
		negatable string
	}
	var undo []saved
	var kebab, snake, negKebab, negSnake string
	eachNodeFlag(ctx.Model.Node, func(f *kong.Flag) {
		alias := strings.ReplaceAll(f.Name, "-", "_")
		if alias == f.Name || !slices.Contains(f.Aliases, alias) {
			return
		}
		undo = append(undo, saved{flag: f, name: f.Name, negatable: f.Tag.Negatable})
		if kebab == "" || f.Name == "log-level" {
			kebab, snake = f.Name, alias
		}
		f.Name = alias
		if f.IsBool() && f.Tag.Negatable != "" {
			if negKebab == "" {
				negKebab, negSnake = "no-"+undo[len(undo)-1].name, alias
			}
			f.Name += "[=false]"
			f.Tag.Negatable = ""
		}
	})
	defer func() {
		for _, s := range undo {
			s.flag.Name, s.flag.Tag.Negatable = s.name, s.negatable
		}
	}()
	if err := kong.DefaultHelpPrinter(options, ctx); err != nil {
		return err
	}
	if len(undo) == 0 {
		return nil
	}
	note := fmt.Sprintf("Flags are also accepted in kebab-case: --%s for --%s", kebab, snake)
	if negKebab != "" {
		note += fmt.Sprintf(",\n--%s for --%s=false", negKebab, negSnake)
	}
	_, err := fmt.Fprintln(ctx.Stdout, "\n"+note+".")
	return err
}
