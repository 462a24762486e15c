package params

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/cli"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// OverridesHelp is the rule for analysis-parameter overrides, shown in both binaries' help.
const OverridesHelp = `Analysis parameters on the command line (the same on aind-dispatch and aind-wrapper, so
both compute the same job identity): --parameter_overrides='{"k": 1}' (a JSON object),
--param k=v (repeatable), and --k=v when the parameter schema declares k (the form Code
Ocean app panels use); later forms win on the same key. A --name that is neither a flag
nor a property of the schema is a usage error naming the nearest flag: without a schema,
give parameters with --param or --parameter_overrides. Values of --param and --k=v take
the schema's type; where the schema gives none, JSON is decoded (true, 1, null, [..],
{..}), Python's True/False/None mean true/false/null, and other text stays a string. A
null parameter is left out of the identity, as if not given.`

// Flags are the analysis-parameter flags the dispatcher and the wrapper share:
// the parameter schema and the command-line overrides (see OverridesHelp). Both binaries
// embed them and call Schema and Overrides, so the same command line gives the same
// parameters, hence the same job identity. Filter must be among cli.Main's filters.
type Flags struct {
	ParameterSchema    string   `name:"parameter-schema" aliases:"parameter_schema" env:"PARAMETER_SCHEMA" type:"path" help:"JSON Schema of the analysis parameters: validates them, types command-line values, and its defaults enter every job's identity (give it to both aind-dispatch and aind-wrapper)."`
	Param              []string `name:"param" sep:"none" help:"Analysis parameter override key=value (repeatable)."`
	ParameterOverrides string   `name:"parameter-overrides" aliases:"parameter_overrides" env:"AIND_PARAMETER_OVERRIDES" help:"Analysis parameter overrides as a JSON object, e.g. {\"window\": 5}."`

	bare     []bareOverride // --name=value arguments that are not flags, in order
	flags    []string       // the parser's flag names, for suggestions
	embedded []byte         // schema used when no --parameter-schema is given
	schema   *Schema        // loaded by Schema
	loaded   bool
}

type bareOverride struct{ name, value string }

// SetDefaultSchema gives the schema document used when --parameter-schema is not set (a
// Go analysis embeds its own).
func (p *Flags) SetDefaultSchema(data []byte) { p.embedded = data }

// Filter returns the cli.ArgsFilter that takes every --name=value (or --name value, or a bare
// --name meaning true) whose name is not one of the parser's flags out of the arguments,
// for Validate and Overrides. Arguments after "--" (an analysis command) are left alone.
func (p *Flags) Filter() cli.ArgsFilter {
	return func(parser *kong.Kong, args []string) []string {
		known := cli.FlagNames(parser)
		p.flags = p.flags[:0]
		for n := range known {
			p.flags = append(p.flags, n)
		}
		sort.Strings(p.flags)
		var kept []string
		for i := 0; i < len(args); i++ {
			a := args[i]
			if a == "--" {
				return append(kept, args[i:]...)
			}
			name, value, hasValue := strings.Cut(strings.TrimPrefix(a, "--"), "=")
			if !strings.HasPrefix(a, "--") || known[name] || name == "" {
				kept = append(kept, a)
				continue
			}
			if !hasValue {
				if i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
					i++
					value = args[i]
				} else {
					value = "true"
				}
			}
			p.bare = append(p.bare, bareOverride{name, value})
		}
		return kept
	}
}

// Validate checks, when the command line is parsed (also under --parse-only), that every
// --name that is not a flag is a property of the parameter schema; kong calls it.
func (p *Flags) Validate() error {
	if len(p.bare) == 0 {
		return nil
	}
	schema, err := p.Schema()
	if err != nil {
		return err
	}
	for _, b := range p.bare {
		if schema.Declares(b.name) {
			continue
		}
		hint := nearest(b.name, append(append([]string{}, p.flags...), schema.Properties()...))
		if schema == nil {
			return fault.Usagef("unknown flag --%s%s; without a parameter schema (--parameter_schema), give an analysis parameter as --param %s=<value>", b.name, hint, b.name)
		}
		return fault.Usagef("unknown flag --%s: neither a flag nor a property of parameter schema %s%s", b.name, schema.Name(), hint)
	}
	return nil
}

// nearest returns ` (did you mean --x?)` for the candidate closest to name by edit
// distance (ties: the first in sorted order), or "" when there is none.
func nearest(name string, candidates []string) string {
	best, bestD := "", -1
	sort.Strings(candidates)
	for _, c := range candidates {
		if c == "help" || c == "version" {
			continue
		}
		if d := editDistance(name, c); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean --" + best + "?)"
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Schema returns the parameter schema: the --parameter-schema file, else the default set
// with SetDefaultSchema, else nil (no schema). Errors are usage errors naming the file.
func (p *Flags) Schema() (*Schema, error) {
	if p.loaded {
		return p.schema, nil
	}
	var err error
	switch {
	case p.ParameterSchema != "":
		p.schema, err = LoadSchema(p.ParameterSchema)
	case len(p.embedded) > 0:
		p.schema, err = CompileSchema("embedded parameter schema", p.embedded)
	}
	if err != nil {
		return nil, err
	}
	p.loaded = true
	return p.schema, nil
}

// Overrides returns the command-line parameter overrides, typed: --parameter-overrides
// first, then --param, then --name=value (later wins on the same key). A --name=value with
// an empty value is not set (the rule for every flag). Errors are usage errors naming the
// flag or the parameter.
func (p *Flags) Overrides() (map[string]any, error) {
	schema, err := p.Schema()
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	if text := strings.TrimSpace(p.ParameterOverrides); text != "" {
		dec := json.NewDecoder(bytes.NewReader([]byte(text)))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil || obj == nil || dec.More() {
			return nil, fault.Usagef("--parameter_overrides %q: want a JSON object of parameter values, e.g. {\"window\": 5}", text)
		}
		for k, v := range obj {
			out[k] = v
		}
	}
	set := func(what, name, text string) error {
		if name == "" {
			return fault.Usagef("%s: want key=value", what)
		}
		v, err := schema.Coerce(name, text)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		out[name] = v
		return nil
	}
	for _, kv := range p.Param {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fault.Usagef("--param %q: want key=value", kv)
		}
		if err := set(fmt.Sprintf("--param %q", kv), k, v); err != nil {
			return nil, err
		}
	}
	for _, b := range p.bare {
		if b.value == "" {
			continue
		}
		if err := set("--"+b.name, b.name, b.value); err != nil {
			return nil, err
		}
	}
	return out, nil
}
