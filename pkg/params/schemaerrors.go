package params

// Error formatting for schema validation: the library's error tree flattened into one
// line per failing field and rule.

import (
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

func shorten(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// problem is one failing rule at one place.
type problem struct {
	path string // instance location, see pointer
	msg  string // what is wrong and, in parentheses, the keyword
}

func (p problem) String() string { return p.path + ": " + p.msg }

func joinProblems(ps []problem) string {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].path != ps[j].path {
			return ps[i].path < ps[j].path
		}
		return ps[i].msg < ps[j].msg
	})
	var sb strings.Builder
	prev := ""
	for _, p := range ps {
		line := p.String()
		if line == prev {
			continue
		}
		prev = line
		sb.WriteString("\n  ")
		sb.WriteString(line)
	}
	return sb.String()
}

func formatProblems(verr *jsonschema.ValidationError, instance any) string {
	return joinProblems(collectProblems(verr, instance))
}

// pointer writes an instance location: the tokens joined by "/", with "~" and "/" inside a
// token escaped as in a JSON pointer (RFC 6901); "(root)" for the whole value.
func pointer(tokens []string) string {
	if len(tokens) == 0 {
		return "(root)"
	}
	esc := make([]string, len(tokens))
	for i, t := range tokens {
		esc[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
	}
	return strings.Join(esc, "/")
}

func child(tokens []string, name string) string {
	return pointer(append(tokens[:len(tokens):len(tokens)], name))
}

// collectProblems flattens the library's error tree for instance into one problem per
// failing rule. Wrapping nodes (the schema, a "$ref", "allOf", a group) contribute only
// their causes; "required", "additionalProperties" and "dependentRequired" give one
// problem per property; other rules give one problem, with their causes (the alternatives
// of an "anyOf", say) folded into its message.
func collectProblems(e *jsonschema.ValidationError, instance any) []problem {
	path := pointer(e.InstanceLocation)
	switch k := e.ErrorKind.(type) {
	case *kind.Schema, *kind.Reference, *kind.Group, *kind.AllOf:
		if len(e.Causes) > 0 {
			var out []problem
			for _, c := range e.Causes {
				out = append(out, collectProblems(c, instance)...)
			}
			return out
		}
	case *kind.Required:
		out := make([]problem, 0, len(k.Missing))
		for _, m := range k.Missing {
			out = append(out, problem{child(e.InstanceLocation, m), "missing required property (required)"})
		}
		return out
	case *kind.DependentRequired:
		out := make([]problem, 0, len(k.Missing))
		for _, m := range k.Missing {
			out = append(out, problem{child(e.InstanceLocation, m), fmt.Sprintf("missing property, required when %q is present (dependentRequired)", k.Prop)})
		}
		return out
	case *kind.Dependency:
		out := make([]problem, 0, len(k.Missing))
		for _, m := range k.Missing {
			out = append(out, problem{child(e.InstanceLocation, m), fmt.Sprintf("missing property, required when %q is present (dependencies)", k.Prop)})
		}
		return out
	case *kind.AdditionalProperties:
		out := make([]problem, 0, len(k.Properties))
		for _, p := range k.Properties {
			out = append(out, problem{child(e.InstanceLocation, p), "property not allowed (additionalProperties)"})
		}
		return out
	case *kind.PropertyNames:
		// v6.0.3 keeps its own location slice here, which later sibling properties
		// overwrite; find the object that really has the key. The causes are about the
		// name itself, so their locations mean nothing.
		path = objectsWithKey(instance, e.InstanceLocation, k.Property)
		var sub []string
		for _, c := range e.Causes {
			for _, p := range collectProblems(c, k.Property) {
				sub = append(sub, p.msg)
			}
		}
		msg := describe(k)
		if len(sub) > 0 {
			msg += ": " + strings.Join(sub, "; ")
		}
		return []problem{{path, msg}}
	}
	msg := describe(e.ErrorKind)
	if len(e.Causes) > 0 {
		var sub []string
		for _, c := range e.Causes {
			for _, p := range collectProblems(c, instance) {
				if p.path == path {
					sub = append(sub, p.msg)
				} else {
					sub = append(sub, p.String())
				}
			}
		}
		msg += ": " + strings.Join(sub, "; ")
	}
	return []problem{{path, msg}}
}

// objectsWithKey returns where in instance an object has the member key: reported, when
// that object has it; else every such object of the reported depth, joined by " or ".
func objectsWithKey(instance any, reported []string, key string) string {
	var found []string
	var walk func(v any, path []string)
	walk = func(v any, path []string) {
		if len(path) > len(reported) {
			return
		}
		switch t := v.(type) {
		case map[string]any:
			if _, ok := t[key]; ok && len(path) == len(reported) {
				found = append(found, pointer(path))
			}
			for k, e := range t {
				walk(e, append(path[:len(path):len(path)], k))
			}
		case []any:
			for i, e := range t {
				walk(e, append(path[:len(path):len(path)], strconv.Itoa(i)))
			}
		}
	}
	walk(instance, nil)
	want := pointer(reported)
	if len(found) == 0 || slices.Contains(found, want) {
		return want
	}
	sort.Strings(found)
	return strings.Join(found, " or ")
}

// describe says what a single rule demands, ending with the keyword in parentheses.
func describe(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return fmt.Sprintf("must be %s, got %s (type)", strings.Join(k.Want, " or "), k.Got)
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = jsonText(w)
		}
		if len(want) == 1 {
			return fmt.Sprintf("must be %s, got %s (enum)", want[0], jsonText(k.Got))
		}
		return fmt.Sprintf("must be one of %s, got %s (enum)", strings.Join(want, ", "), jsonText(k.Got))
	case *kind.Const:
		return fmt.Sprintf("must be %s, got %s (const)", jsonText(k.Want), jsonText(k.Got))
	case *kind.Minimum:
		return fmt.Sprintf("must be >= %s, got %s (minimum)", ratText(k.Want), ratText(k.Got))
	case *kind.Maximum:
		return fmt.Sprintf("must be <= %s, got %s (maximum)", ratText(k.Want), ratText(k.Got))
	case *kind.ExclusiveMinimum:
		return fmt.Sprintf("must be > %s, got %s (exclusiveMinimum)", ratText(k.Want), ratText(k.Got))
	case *kind.ExclusiveMaximum:
		return fmt.Sprintf("must be < %s, got %s (exclusiveMaximum)", ratText(k.Want), ratText(k.Got))
	case *kind.MultipleOf:
		return fmt.Sprintf("must be a multiple of %s, got %s (multipleOf)", ratText(k.Want), ratText(k.Got))
	case *kind.MinLength:
		return fmt.Sprintf("must have at least %d characters, got %d (minLength)", k.Want, k.Got)
	case *kind.MaxLength:
		return fmt.Sprintf("must have at most %d characters, got %d (maxLength)", k.Want, k.Got)
	case *kind.MinItems:
		return fmt.Sprintf("must have at least %d items, got %d (minItems)", k.Want, k.Got)
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d items, got %d (maxItems)", k.Want, k.Got)
	case *kind.Pattern:
		return fmt.Sprintf("must match pattern %s (pattern)", jsonText(k.Want))
	case *kind.AnyOf:
		return "matches none of the alternatives (anyOf)"
	case *kind.OneOf:
		if len(k.Subschemas) == 0 {
			return "matches none of the alternatives (oneOf)"
		}
		return fmt.Sprintf("must match exactly one alternative, matches %d and %d (oneOf)", k.Subschemas[0], k.Subschemas[1])
	case *kind.Not:
		return "must not match the schema (not)"
	case *kind.FalseSchema:
		return "not allowed (false schema)"
	case *kind.Format:
		return fmt.Sprintf("must be a valid %s, got %s: %v (format)", k.Want, jsonText(k.Got), k.Err)
	case *kind.MinProperties:
		return fmt.Sprintf("must have at least %d properties, got %d (minProperties)", k.Want, k.Got)
	case *kind.MaxProperties:
		return fmt.Sprintf("must have at most %d properties, got %d (maxProperties)", k.Want, k.Got)
	case *kind.UniqueItems:
		return fmt.Sprintf("items %d and %d are equal (uniqueItems)", k.Duplicates[0], k.Duplicates[1])
	case *kind.PropertyNames:
		return fmt.Sprintf("property name %q is invalid (propertyNames)", k.Property)
	case *kind.Contains:
		return "no item matches (contains)"
	case *kind.MinContains:
		return fmt.Sprintf("must have at least %d matching items, got %d (minContains)", k.Want, len(k.Got))
	case *kind.MaxContains:
		return fmt.Sprintf("must have at most %d matching items, got %d (maxContains)", k.Want, len(k.Got))
	case *kind.AdditionalItems:
		return fmt.Sprintf("the last %d items are not allowed (additionalItems)", k.Count)
	}
	// Any other rule: the library's own English text. Its message API takes an
	// x/text printer; a bare ValidationError prints the same text after "at '': ".
	msg := (&jsonschema.ValidationError{ErrorKind: k}).Error()
	msg = strings.TrimPrefix(msg, "at '': ")
	if kw := k.KeywordPath(); len(kw) > 0 {
		msg += " (" + kw[len(kw)-1] + ")"
	}
	return msg
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return shorten(string(b))
}

func ratText(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}
