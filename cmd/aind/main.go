// Command aind is every aind-* tool in one binary, chosen by the name it is called by
// (a link named aind-dispatch or aind-wrapper) or by its first argument
// (aind dispatch ..., aind wrapper run ...). Container images ship it with links, so the
// AWS SDK and the Mongo driver are in the image once.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/cmdline/dispatchcmd"
	"github.com/allenneuraldynamics/aind-analysis-go/internal/cmdline/resultscmd"
	"github.com/allenneuraldynamics/aind-analysis-go/internal/cmdline/wrappercmd"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

var tools = map[string]func([]string) int{
	"dispatch": dispatchcmd.Main,
	"wrapper":  wrappercmd.Main,
	"results":  resultscmd.Main,
}

// help is aind --help, laid out like the help kong writes for the tools themselves.
var help = `Usage: aind <command> [flags]

Every aind-* tool in one binary, chosen by its first argument (aind dispatch
...) or by the name it is called by (a link named aind-dispatch, aind-wrapper or
aind-results). Container images ship it with those links.

Exit status:

    the exit status of the tool it runs (see aind <command> --help); 2 when it
    names no tool

Flags:
  -h, --help    Show context-sensitive help.

Commands:
  dispatch [flags]
    ` + wrap(dispatchcmd.Description) + `

  wrapper run [flags] -- <command> ...
    ` + wrap(wrappercmd.Description) + `

  results <command> [flags]
    ` + wrap(resultscmd.Description) + `

Run "aind <command> --help" for more information on a command.
`

// wrap breaks a command's description into lines of help's width.
func wrap(s string) string {
	var b strings.Builder
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && 4+len(line)+1+len(w) > 80 {
			b.WriteString(line + "\n    ")
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return b.String() + line
}

func main() {
	os.Exit(run(filepath.Base(os.Args[0]), os.Args[1:], os.Stdout, os.Stderr))
}

func run(name string, args []string, stdout, stderr io.Writer) int {
	if tool, ok := tools[strings.TrimPrefix(name, "aind-")]; ok && name != "aind" {
		return tool(args)
	}
	if len(args) > 0 {
		if tool, ok := tools[strings.TrimPrefix(args[0], "aind-")]; ok {
			return tool(args[1:])
		}
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, help)
		return fault.ExitOK
	}
	if len(args) == 0 {
		fmt.Fprintf(stderr, "aind: expected one of \"dispatch\", \"wrapper\", \"results\"\n\n")
	} else {
		fmt.Fprintf(stderr, "aind: unexpected argument %s: expected one of \"dispatch\", \"wrapper\", \"results\"\n\n", args[0])
	}
	fmt.Fprintln(stderr, "Usage: aind <command> [flags]")
	fmt.Fprintln(stderr, `Run "aind --help" for more information.`)
	return fault.ExitUsage
}
