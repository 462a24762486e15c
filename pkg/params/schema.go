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
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

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

// Properties returns the names of the schema's top-level properties, sorted (none for a
// nil schema): the parameters a command line may set as --name=value.
func (s *Schema) Properties() []string {
	if s == nil {
		return nil
	}
	names := make([]string, 0, len(s.props))
	for k := range s.props {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Declares reports whether key is one of the schema's top-level properties.
func (s *Schema) Declares(key string) bool {
	if s == nil {
		return false
	}
	_, ok := s.props[key]
	return ok
}
