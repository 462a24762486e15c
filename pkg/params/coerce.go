package params

// Command-line typing: turning an override's text into a JSON value, by the schema's
// declared type or, for keys it does not type, by one rule (FromText).

import (
	"encoding/json"
	"math"
	"math/big"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// Coerce turns a command-line text value into the type the schema declares for the
// top-level property key:
//
//   - "integer": an int64 ("2", and integral forms such as "2.0" or "1e3");
//   - "number": a json.Number (the JSON text, as parameters files are decoded; other forms
//     strconv.ParseFloat reads, such as ".5" or "+1", are rewritten as JSON);
//   - "boolean": true for true/1/yes, false for false/0/no (any case);
//   - "string": the text as it is;
//   - "null": nil for "null" (or Python's "None");
//   - "array", "object": the text parsed as JSON (numbers as json.Number).
//
// A list of types (or an anyOf/oneOf of typed alternatives, as pydantic writes Optional)
// is tried in order and the first that fits wins. Local "$ref"s are followed, and an enum
// without a type takes the types of its values. A key the schema does not type, and every
// key when there is no schema (a nil *Schema), is typed by FromText. Errors are usage
// errors naming the key and the expected type.
func (s *Schema) Coerce(key, text string) (any, error) {
	var types []string
	if s != nil {
		types = s.typesOf(s.props[key], 0)
	}
	if len(types) == 0 {
		return FromText(text), nil
	}
	for _, t := range types {
		if v, ok := coerceAs(t, text); ok {
			return v, nil
		}
	}
	return nil, fault.Usagef("parameter %q: %s is not %s", key, strconv.Quote(shorten(text)), withArticle(types))
}

func withArticle(types []string) string {
	words := make([]string, len(types))
	for i, t := range types {
		switch t {
		case "null":
			words[i] = "null"
		case "integer", "array", "object":
			words[i] = "an " + t
		default:
			words[i] = "a " + t
		}
	}
	return strings.Join(words, " or ")
}

const maxRefDepth = 32

// typesOf returns the JSON types a raw (sub)schema allows, in the order it lists them.
func (s *Schema) typesOf(node any, depth int) []string {
	obj, ok := node.(map[string]any)
	if !ok || depth > maxRefDepth {
		return nil
	}
	switch t := obj["type"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, e := range t {
			if name, ok := e.(string); ok {
				out = append(out, name)
			}
		}
		return out
	}
	if ref, ok := obj["$ref"].(string); ok {
		if types := s.typesOf(s.resolveLocal(ref), depth+1); len(types) > 0 {
			return types
		}
	}
	for _, kw := range []string{"anyOf", "oneOf", "allOf"} {
		alts, ok := obj[kw].([]any)
		if !ok {
			continue
		}
		var out []string
		for _, a := range alts {
			for _, t := range s.typesOf(a, depth+1) {
				if !slices.Contains(out, t) {
					out = append(out, t)
				}
			}
			if kw == "allOf" && len(out) > 0 {
				break
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	var values []any
	if enum, ok := obj["enum"].([]any); ok {
		values = enum
	} else if c, ok := obj["const"]; ok {
		values = []any{c}
	}
	var out []string
	for _, v := range values {
		if t := jsonType(v); t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func jsonType(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, err := t.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return ""
}

// resolveLocal follows a "$ref" of the form "#/json/pointer" inside the schema document;
// anything else resolves to nil.
func (s *Schema) resolveLocal(ref string) any {
	if ref == "#" {
		return s.root
	}
	if !strings.HasPrefix(ref, "#/") {
		return nil
	}
	node := s.root
	for _, tok := range strings.Split(ref[2:], "/") {
		if t, err := url.PathUnescape(tok); err == nil {
			tok = t
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch n := node.(type) {
		case map[string]any:
			node = n[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n) {
				return nil
			}
			node = n[i]
		default:
			return nil
		}
	}
	return node
}

// jsonNumber matches the JSON number grammar.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

func coerceAs(typ, text string) (any, bool) {
	trimmed := strings.TrimSpace(text)
	switch typ {
	case "string":
		return text, true
	case "null":
		return nil, trimmed == "null" || trimmed == "None"
	case "boolean":
		switch strings.ToLower(trimmed) {
		case "true", "1", "yes":
			return true, true
		case "false", "0", "no":
			return false, true
		}
		return nil, false
	case "integer":
		return parseInteger(trimmed)
	case "number":
		if jsonNumber.MatchString(trimmed) {
			return json.Number(trimmed), finiteNumber(trimmed)
		}
		// Forms Go reads but JSON does not (".5", "+1", "1."), rewritten as JSON.
		f, err := strconv.ParseFloat(trimmed, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || f == 0 && strings.ContainsAny(mantissa(trimmed), "123456789") {
			return nil, false
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), true
	case "array":
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
		_, ok := v.([]any)
		return v, err == nil && ok
	case "object":
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
		_, ok := v.(map[string]any)
		return v, err == nil && ok
	}
	return nil, false
}

// parseInteger reads a decimal integer, or a JSON number with an integral value ("2.0",
// "1e3"), that fits in an int64.
func parseInteger(text string) (any, bool) {
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		return n, true
	}
	if !jsonNumber.MatchString(text) || !finiteNumber(text) {
		return nil, false
	}
	f, _ := strconv.ParseFloat(text, 64)
	if math.Abs(f) > 1e19 { // far outside int64; keeps the exact arithmetic below small
		return nil, false
	}
	r, ok := new(big.Rat).SetString(text)
	if !ok || !r.IsInt() || !r.Num().IsInt64() {
		return nil, false
	}
	return r.Num().Int64(), true
}

// pythonLiterals are the Python spellings Code Ocean's app panel passes for JSON's
// true, false and null.
var pythonLiterals = map[string]any{"True": true, "False": false, "None": nil}

// FromText is the one rule typing a command-line value that no schema types, used alike by
// the dispatcher and the wrapper (through Coerce), so both compute the same identity:
//
//   - text that is valid JSON is decoded: true/false, null, numbers (as json.Number),
//     strings ('"5"' gives the string 5), arrays and objects;
//   - Python's True, False and None (exactly so spelt, white space around ignored) are
//     true, false and null;
//   - anything else is the text itself, unchanged ("hello", "TRUE", "{bad").
//
// A null value is a value like any other in the merged parameters, but the identity drops
// null members (see pkg/identity): overriding a parameter with null identifies the job as
// if the parameter were not given at all.
func FromText(text string) any {
	if v, ok := pythonLiterals[strings.TrimSpace(text)]; ok {
		return v
	}
	if v, err := jsonschema.UnmarshalJSON(strings.NewReader(text)); err == nil {
		return v
	}
	return text
}
