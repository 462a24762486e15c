package cli

import (
	"strings"

	"github.com/alecthomas/kong"
)

// boolLiterals are the values a boolean flag takes as a separate argument: the forms Code
// Ocean app panels and Python's argparse / pydantic-settings accept (0/1, true/false in
// either case).
var boolLiterals = map[string]bool{
	"0": true, "1": true, "true": true, "false": true, "True": true, "False": true, "TRUE": true, "FALSE": true,
}

// JoinBoolValues lets a boolean flag take its value as the next argument, as the upstream
// Python capsules do (`--split_files 0`, not only `--split_files=0`): before "--", a known
// boolean flag followed by a boolean literal becomes --name=value. kong alone would read the
// literal as a positional argument and fail. Other arguments are left as they are.
func JoinBoolValues(parser *kong.Kong, args []string) []string {
	isBool := map[string]bool{}
	eachFlag(parser, func(f *kong.Flag) {
		if f.IsBool() {
			for _, n := range append([]string{f.Name}, f.Aliases...) {
				isBool[n] = true
			}
		}
	})
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if name, ok := strings.CutPrefix(a, "--"); ok && !strings.Contains(name, "=") && isBool[name] &&
			i+1 < len(args) && boolLiterals[args[i+1]] {
			out = append(out, a+"="+args[i+1])
			i++
			continue
		}
		out = append(out, a)
	}
	return out
}
