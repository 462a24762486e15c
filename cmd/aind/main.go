// Command aind is every aind-* tool in one binary, chosen by the name it is called by
// (a link named aind-dispatch or aind-wrapper) or by its first argument
// (aind dispatch ..., aind wrapper run ...). Container images ship it with links, so the
// AWS SDK and the Mongo driver are in the image once.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/dispatchcmd"
	"github.com/allenneuraldynamics/aind-analysis-go/internal/resultscmd"
	"github.com/allenneuraldynamics/aind-analysis-go/internal/wrappercmd"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

var tools = map[string]func([]string) int{
	"dispatch": dispatchcmd.Main,
	"wrapper":  wrappercmd.Main,
	"results":  resultscmd.Main,
}

func main() {
	os.Exit(run(filepath.Base(os.Args[0]), os.Args[1:]))
}

func run(name string, args []string) int {
	if tool, ok := tools[strings.TrimPrefix(name, "aind-")]; ok && name != "aind" {
		return tool(args)
	}
	if len(args) > 0 {
		if tool, ok := tools[strings.TrimPrefix(args[0], "aind-")]; ok {
			return tool(args[1:])
		}
	}
	usage := fmt.Sprintf("usage: aind {dispatch|wrapper|results} [flags], or call it as aind-dispatch / aind-wrapper / aind-results\n\n  dispatch  %s\n  wrapper   %s\n  results   %s\n\n%s\n", dispatchcmd.Description, wrappercmd.Description, resultscmd.Description, fault.ExitCodeHelp)
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Print(usage)
		return fault.ExitOK
	}
	fmt.Fprint(os.Stderr, usage)
	return fault.ExitUsage
}
