package params

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// Schema is a compiled JSON Schema for analysis parameters or outputs. Schemas without
// "$schema" are read as draft 2020-12; a "$schema" naming another draft is honoured.
// Format keywords are annotations only, as draft 2020-12 says by default. "$ref"s resolve
// within the document and to files next to it; nothing is fetched over the network.
//
// It is built on github.com/santhosh-tekuri/jsonschema/v6, chosen because it passes the
// whole JSON-Schema-Test-Suite for draft 2020-12 (and 2019-09, 7, 6 and 4), is maintained,
// needs nothing beyond golang.org/x/text, and reports every failure with its instance
// location and keyword, which is what lets Validate name each failing field and rule.
//
// A nil *Schema is valid and means "no schema": ApplyDefaults fills nothing, Validate
// accepts anything and Coerce reads JSON, else keeps the text.
type Schema struct {
	name     string             // file path or name, for messages
	compiled *jsonschema.Schema // the validator
	root     any                // the raw document, for local "$ref" in Coerce
	props    map[string]any     // the raw top-level "properties", for defaults and types
}

// LoadSchema reads and compiles the schema file at path. Errors are usage errors naming
// the file. "$ref"s to other files resolve relative to path.
func LoadSchema(path string) (*Schema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fault.Usagef("schema file %s: does not exist", path)
		}
		return nil, fault.Usagef("schema file: %w", err)
	}
	return CompileSchema(path, data)
}

// CompileSchema compiles a schema document. name is the file path (or any name) used in
// messages and as the base for relative "$ref"s. Errors are usage errors naming it.
func CompileSchema(name string, data []byte) (*Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fault.Usagef("schema %s: invalid JSON: %w", name, err)
	}
	loc, err := resourceURL(name)
	if err != nil {
		return nil, fault.Usagef("schema %s: %w", name, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(loc, doc); err != nil {
		return nil, fault.Usagef("schema %s: %w", name, err)
	}
	compiled, err := c.Compile(loc)
	if err != nil {
		// A schema that breaks its metaschema comes as a SchemaValidationError holding
		// (without Unwrap) the ValidationError of the schema against the metaschema.
		var serr *jsonschema.SchemaValidationError
		if errors.As(err, &serr) {
			if verr, ok := serr.Err.(*jsonschema.ValidationError); ok {
				return nil, fault.Usagef("schema %s: not a valid JSON Schema:%s", name, formatProblems(verr, doc))
			}
		}
		return nil, fault.Usagef("schema %s: %w", name, err)
	}
	s := &Schema{name: name, compiled: compiled, root: doc}
	if obj, ok := doc.(map[string]any); ok {
		s.props, _ = obj["properties"].(map[string]any)
	}
	return s, nil
}

// resourceURL turns a schema name into the absolute URL the compiler files it under: a URL
// stays as it is, anything else is a file path made absolute.
func resourceURL(name string) (string, error) {
	if name == "" {
		name = "schema.json"
	}
	if u, err := url.Parse(name); err == nil && u.IsAbs() && len(u.Scheme) > 1 {
		return name, nil
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return "", err
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), nil
}

// Name returns the schema's file path or name, as given to LoadSchema or CompileSchema.
func (s *Schema) Name() string {
	if s == nil {
		return ""
	}
	return s.name
}

// ApplyDefaults returns a copy of values with the schema's top-level
// properties.<key>.default filled in for every key that is absent (a key present with
// null is kept as null), and the keys it filled, sorted. Defaults are deep copies.
func (s *Schema) ApplyDefaults(values map[string]any) (map[string]any, []string) {
	out := maps.Clone(values)
	if s == nil {
		return out, nil
	}
	var filled []string
	for key, p := range s.props {
		obj, ok := p.(map[string]any)
		if !ok {
			continue
		}
		def, ok := obj["default"]
		if !ok {
			continue
		}
		if _, present := values[key]; present {
			continue
		}
		if out == nil {
			out = map[string]any{}
		}
		out[key] = deepCopy(def)
		filled = append(filled, key)
	}
	sort.Strings(filled)
	return out, filled
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, e := range t {
			l[i] = deepCopy(e)
		}
		return l
	default:
		return v
	}
}

// Validate checks values against the schema. what ("parameters" or "outputs") starts the
// message. On failure it returns a usage error naming every failing field by its path
// (object keys and array indexes joined by "/"; "(root)" for the whole object) and the
// rule, one per line:
//
//	parameters invalid against schema analysis_schema.json:
//	  isi_violations_cutoff: must be <= 1, got 1.5 (maximum)
//	  method: must be one of "isolation_distance", "amplitude_cutoff", got "x" (enum)
//	  analysis_name: missing required property (required)
//
// values may hold any JSON-like Go values (json.Number, float64, int, int64, bool, string,
// []any, map[string]any, structs); they are normalised through JSON first. A nil values is
// an empty object.
func (s *Schema) Validate(what string, values map[string]any) error {
	if s == nil {
		return nil
	}
	instance, problems, err := normalise(values)
	if err != nil {
		return fault.Usagef("%s: %w", what, err)
	}
	if len(problems) == 0 {
		if err := s.compiled.Validate(instance); err != nil {
			var verr *jsonschema.ValidationError
			if !errors.As(err, &verr) {
				return fault.Usagef("%s invalid against schema %s: %w", what, s.name, err)
			}
			problems = collectProblems(verr, instance)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fault.Usagef("%s invalid against schema %s:%s", what, s.name, joinProblems(problems))
}

// normalise turns values into the plain JSON tree the validator wants (map[string]any,
// []any, string, bool, nil and json.Number), through a JSON round trip. It also reports
// numbers outside the range of a double: the validator does exact arithmetic on them and
// would otherwise spend unbounded time on, or fail at, "1e-2000000".
func normalise(values map[string]any) (any, []problem, error) {
	if values == nil {
		values = map[string]any{}
	}
	raw, err := json.Marshal(values)
	if err != nil {
		return nil, nil, fmt.Errorf("not representable as JSON: %w", err)
	}
	tree, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, fmt.Errorf("not representable as JSON: %w", err)
	}
	var problems []problem
	var walk func(v any, path []string)
	walk = func(v any, path []string) {
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				walk(e, append(path[:len(path):len(path)], k))
			}
		case []any:
			for i, e := range t {
				walk(e, append(path[:len(path):len(path)], strconv.Itoa(i)))
			}
		case json.Number:
			if !finiteNumber(string(t)) {
				problems = append(problems, problem{path: pointer(path), msg: fmt.Sprintf("number %s is out of the range of a double (number)", shorten(string(t)))})
			}
		}
	}
	walk(tree, nil)
	return tree, problems, nil
}

// finiteNumber reports whether a JSON number is a finite double that is zero only when
// written as zero, with an exact value math/big can hold.
func finiteNumber(n string) bool {
	f, err := strconv.ParseFloat(n, 64)
	if err != nil || math.IsInf(f, 0) {
		return false
	}
	if f == 0 && strings.ContainsAny(mantissa(n), "123456789") {
		return false // underflow
	}
	_, ok := new(big.Rat).SetString(n)
	return ok
}

func mantissa(n string) string {
	if i := strings.IndexAny(n, "eE"); i >= 0 {
		return n[:i]
	}
	return n
}

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

// Coerce turns a command-line text value into the type the schema declares for the
// top-level property key:
//
//   - "integer": an int64 ("2", and integral forms such as "2.0" or "1e3");
//   - "number": a json.Number (the JSON text, as parameters files are decoded; other forms
//     strconv.ParseFloat reads, such as ".5" or "+1", are rewritten as JSON);
//   - "boolean": true for true/1/yes, false for false/0/no (any case);
//   - "string": the text as it is;
//   - "null": nil for "null";
//   - "array", "object": the text parsed as JSON (numbers as json.Number).
//
// A list of types (or an anyOf/oneOf of typed alternatives, as pydantic writes Optional)
// is tried in order and the first that fits wins. Local "$ref"s are followed, and an enum
// without a type takes the types of its values. A key the schema does not type is read as
// JSON when the text is valid JSON (so '"5"' gives the string 5), else kept as the string.
// Errors are usage errors naming the key and the expected type.
func (s *Schema) Coerce(key, text string) (any, error) {
	var types []string
	if s != nil {
		types = s.typesOf(s.props[key], 0)
	}
	if len(types) == 0 {
		if v, err := jsonschema.UnmarshalJSON(strings.NewReader(text)); err == nil {
			return v, nil
		}
		return text, nil
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
		return nil, trimmed == "null"
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
