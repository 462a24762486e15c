package params

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

const analysisSchema = "testdata/schema/analysis_schema.json"

func mustLoadSchema(t testing.TB, path string) *Schema {
	t.Helper()
	s, err := LoadSchema(path)
	if err != nil {
		t.Fatalf("LoadSchema(%s): %v", path, err)
	}
	return s
}

// valid returns parameters that satisfy analysis_schema.json, with extra merged in.
func valid(extra map[string]any) map[string]any {
	v := map[string]any{
		"analysis_name":         "Unit Quality Filtering",
		"analysis_tag":          "baseline_v1.0",
		"isi_violations_cutoff": json.Number("0.05"),
	}
	for k, e := range extra {
		v[k] = e
	}
	return v
}

func TestValidate(t *testing.T) {
	s := mustLoadSchema(t, analysisSchema)
	tests := []struct {
		name   string
		values map[string]any
		want   []string // lines of the message after the header; none means valid
	}{
		{name: "minimal", values: valid(nil)},
		{name: "every field", values: valid(map[string]any{
			"amplitude_cutoff_threshold": 0.2, "isolation_distance_threshold": json.Number("25"),
			"spike_count_threshold": int64(50), "method": "amplitude_cutoff",
		})},
		{name: "go number types", values: valid(map[string]any{
			"isi_violations_cutoff": 1, "amplitude_cutoff_threshold": float32(0.5),
			"isolation_distance_threshold": int64(20), "spike_count_threshold": uint8(7),
		})},
		{name: "integral float is an integer", values: valid(map[string]any{"spike_count_threshold": json.Number("2.0")})},
		{name: "big integer kept exact", values: valid(map[string]any{"spike_count_threshold": json.Number("123456789012345678901234567890")})},
		{
			name:   "above maximum",
			values: valid(map[string]any{"isi_violations_cutoff": 1.5}),
			want:   []string{"isi_violations_cutoff: must be <= 1, got 1.5 (maximum)"},
		},
		{
			name:   "below minimum",
			values: valid(map[string]any{"isi_violations_cutoff": json.Number("-0.25"), "spike_count_threshold": 0}),
			want: []string{
				"isi_violations_cutoff: must be >= 0, got -0.25 (minimum)",
				"spike_count_threshold: must be >= 1, got 0 (minimum)",
			},
		},
		{
			name:   "enum through $ref",
			values: valid(map[string]any{"method": "median"}),
			want:   []string{`method: must be one of "isolation_distance", "amplitude_cutoff", got "median" (enum)`},
		},
		{
			name:   "not an integer",
			values: valid(map[string]any{"spike_count_threshold": json.Number("2.5")}),
			want:   []string{"spike_count_threshold: must be integer, got number (type)"},
		},
		{
			name:   "string is not a number",
			values: valid(map[string]any{"isi_violations_cutoff": "0.05"}),
			want:   []string{"isi_violations_cutoff: must be number, got string (type)"},
		},
		{
			name:   "null is not a string",
			values: valid(map[string]any{"analysis_name": nil}),
			want:   []string{"analysis_name: must be string, got null (type)"},
		},
		{
			name:   "unknown field",
			values: valid(map[string]any{"cutoff": 1}),
			want:   []string{"cutoff: property not allowed (additionalProperties)"},
		},
		{
			name:   "nil values misses every required field",
			values: nil,
			want: []string{
				"analysis_name: missing required property (required)",
				"analysis_tag: missing required property (required)",
				"isi_violations_cutoff: missing required property (required)",
			},
		},
		{
			name: "every failure on its own line",
			values: map[string]any{
				"analysis_tag": 3, "isi_violations_cutoff": 2, "method": "x", "spike_count_threshold": -1, "extra": []string{"a"},
			},
			want: []string{
				"analysis_name: missing required property (required)",
				"analysis_tag: must be string, got number (type)",
				"extra: property not allowed (additionalProperties)",
				"isi_violations_cutoff: must be <= 1, got 2 (maximum)",
				`method: must be one of "isolation_distance", "amplitude_cutoff", got "x" (enum)`,
				"spike_count_threshold: must be >= 1, got -1 (minimum)",
			},
		},
		{
			// The library panics on numbers math/big cannot hold; Validate reports them.
			name:   "number beyond a double",
			values: valid(map[string]any{"isi_violations_cutoff": json.Number("1e-2000000")}),
			want:   []string{"isi_violations_cutoff: number 1e-2000000 is out of the range of a double (number)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Validate("parameters", tt.values)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate accepted %v", tt.values)
			}
			if !fault.IsUsage(err) {
				t.Errorf("error %v is not a usage error", err)
			}
			want := "parameters invalid against schema " + analysisSchema + ":\n  " + strings.Join(tt.want, "\n  ")
			if err.Error() != want {
				t.Fatalf("message:\n%s\nwant:\n%s", err, want)
			}
		})
	}
}

func TestValidateNested(t *testing.T) {
	s := mustLoadSchema(t, "testdata/schema/coerce_schema.json")
	values := map[string]any{
		"maybe_ratio": "x",
		"window":      []any{1, "a", 3},
		"nested":      map[string]any{"a": map[string]any{"b": 1.5}},
		"channels":    []int{1, 2}, // not []any: normalised through JSON
	}
	err := s.Validate("outputs", values)
	want := "outputs invalid against schema testdata/schema/coerce_schema.json:\n" +
		"  maybe_ratio: matches none of the alternatives (anyOf): must be number, got string (type); must be null, got string (type)\n" +
		"  nested/a/b: must be integer, got number (type)\n" +
		"  window: must have at most 2 items, got 3 (maxItems)\n" +
		"  window/1: must be number, got string (type)"
	if err == nil || err.Error() != want || !fault.IsUsage(err) {
		t.Fatalf("Validate = %v\nwant usage error:\n%s", err, want)
	}
}

func TestValidateUnrepresentable(t *testing.T) {
	s := mustLoadSchema(t, analysisSchema)
	err := s.Validate("parameters", valid(map[string]any{"isi_violations_cutoff": math.NaN()}))
	if err == nil || !fault.IsUsage(err) || !strings.Contains(err.Error(), "not representable as JSON") {
		t.Fatalf("Validate(NaN) = %v, want usage error", err)
	}
}

func TestSchemaDraft(t *testing.T) {
	// Draft 4 spells an exclusive bound as a boolean next to maximum.
	s := mustLoadSchema(t, "testdata/schema/draft4_schema.json")
	if err := s.Validate("parameters", map[string]any{"x": 0.5}); err != nil {
		t.Fatalf("0.5: %v", err)
	}
	if err := s.Validate("parameters", map[string]any{"x": 1}); err == nil || !strings.Contains(err.Error(), "x: must be < 1, got 1 (exclusiveMaximum)") {
		t.Fatalf("1: %v", err)
	}
	// Without $schema the same document is read as draft 2020-12, where that is invalid.
	data, err := os.ReadFile("testdata/schema/draft4_schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc, "$schema")
	data, _ = json.Marshal(doc)
	if _, err := CompileSchema("nodraft.json", data); err == nil || !strings.Contains(err.Error(), "properties/x/exclusiveMaximum: must be number, got boolean (type)") {
		t.Fatalf("CompileSchema without $schema = %v, want a draft 2020-12 error", err)
	}
}

func TestSchemaRefToSiblingFile(t *testing.T) {
	s := mustLoadSchema(t, "testdata/schema/with_ref.json")
	if err := s.Validate("parameters", map[string]any{"method": "amplitude_cutoff"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate("parameters", map[string]any{"method": "y"}); err == nil || !strings.Contains(err.Error(), `method: must be one of "isolation_distance", "amplitude_cutoff", got "y" (enum)`) {
		t.Fatalf("Validate = %v", err)
	}
}

func TestLoadSchemaErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.json")
	tests := []struct {
		name string
		load func() (*Schema, error)
		want []string // substrings of the message
	}{
		{"missing file", func() (*Schema, error) { return LoadSchema(missing) }, []string{missing, "does not exist"}},
		{"not json", func() (*Schema, error) { return LoadSchema("testdata/schema/not_json.json") }, []string{"testdata/schema/not_json.json", "invalid JSON"}},
		{"trailing data", func() (*Schema, error) { return CompileSchema("two.json", []byte(`{} {}`)) }, []string{"two.json", "invalid JSON"}},
		{"bad schema", func() (*Schema, error) { return LoadSchema("testdata/schema/bad_schema.json") }, []string{
			"schema testdata/schema/bad_schema.json: not a valid JSON Schema:",
			`properties/x/type: matches none of the alternatives (anyOf): must be one of "array", "boolean", "integer", "null", "number", "object", "string", got "numbr" (enum)`,
			"properties/y/minimum: must be number, got string (type)",
		}},
		{"unknown $schema", func() (*Schema, error) {
			return CompileSchema("meta.json", []byte(`{"$schema": "https://example.org/my-meta-schema"}`))
		}, []string{"meta.json", "example.org/my-meta-schema"}},
		{"unresolvable $ref", func() (*Schema, error) {
			return CompileSchema("ref.json", []byte(`{"properties": {"a": {"$ref": "#/$defs/missing"}}}`))
		}, []string{"ref.json", "missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.load()
			if err == nil {
				t.Fatalf("loaded %v", s)
			}
			if !fault.IsUsage(err) {
				t.Errorf("%v is not a usage error", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestApplyDefaults(t *testing.T) {
	s := mustLoadSchema(t, analysisSchema)
	tests := []struct {
		name       string
		values     map[string]any
		want       map[string]any
		wantFilled []string
	}{
		{
			name:   "fills absent keys",
			values: valid(nil),
			want: valid(map[string]any{
				"amplitude_cutoff_threshold":   json.Number("0.1"),
				"isolation_distance_threshold": json.Number("20.0"),
				"spike_count_threshold":        json.Number("100"),
			}),
			wantFilled: []string{"amplitude_cutoff_threshold", "isolation_distance_threshold", "spike_count_threshold"},
		},
		{
			name:       "keeps given values and explicit nulls",
			values:     valid(map[string]any{"amplitude_cutoff_threshold": 0.3, "spike_count_threshold": nil}),
			want:       valid(map[string]any{"amplitude_cutoff_threshold": 0.3, "spike_count_threshold": nil, "isolation_distance_threshold": json.Number("20.0")}),
			wantFilled: []string{"isolation_distance_threshold"},
		},
		{
			name:       "nil values",
			values:     nil,
			want:       map[string]any{"amplitude_cutoff_threshold": json.Number("0.1"), "isolation_distance_threshold": json.Number("20.0"), "spike_count_threshold": json.Number("100")},
			wantFilled: []string{"amplitude_cutoff_threshold", "isolation_distance_threshold", "spike_count_threshold"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(tt.values)
			got, filled := s.ApplyDefaults(tt.values)
			if !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(filled, tt.wantFilled) {
				t.Fatalf("ApplyDefaults = %v, %v\nwant %v, %v", got, filled, tt.want, tt.wantFilled)
			}
			if len(tt.values) != before {
				t.Fatalf("input changed: %v", tt.values)
			}
		})
	}
}

func TestApplyDefaultsCopiesDefaults(t *testing.T) {
	s := mustLoadSchema(t, "testdata/schema/coerce_schema.json")
	first, filled := s.ApplyDefaults(map[string]any{})
	if !reflect.DeepEqual(filled, []string{"maybe_ratio", "nested"}) {
		t.Fatalf("filled %v", filled)
	}
	if v, ok := first["maybe_ratio"]; !ok || v != nil {
		t.Fatalf("null default: %#v (present %v)", v, ok)
	}
	first["nested"].(map[string]any)["a"].(map[string]any)["b"] = "changed"
	second, _ := s.ApplyDefaults(nil)
	if b := second["nested"].(map[string]any)["a"].(map[string]any)["b"]; b != json.Number("1") {
		t.Fatalf("a caller's change leaked into the schema's default: %#v", b)
	}
}

func TestCoerce(t *testing.T) {
	s := mustLoadSchema(t, "testdata/schema/coerce_schema.json")
	tests := []struct {
		name, key, text string
		want            any
		wantErr         string // substring; "" means success
	}{
		{"integer", "count", "42", int64(42), ""},
		{"integer with spaces", "count", " -7 ", int64(-7), ""},
		{"integer written as float", "count", "2.0", int64(2), ""},
		{"integer with exponent", "count", "1e3", int64(1000), ""},
		{"smallest int64", "count", "-9223372036854775808", int64(math.MinInt64), ""},
		{"integer overflow", "count", "9223372036854775808", nil, `parameter "count": "9223372036854775808" is not an integer`},
		{"fraction is not integer", "count", "1.5", nil, `parameter "count": "1.5" is not an integer`},
		{"word is not integer", "count", "abc", nil, `parameter "count": "abc" is not an integer`},
		{"number", "ratio", "0.5", json.Number("0.5"), ""},
		{"number exponent kept", "ratio", "5e-2", json.Number("5e-2"), ""},
		{"number from integer text", "ratio", "3", json.Number("3"), ""},
		{"number in Go syntax", "ratio", ".5", json.Number("0.5"), ""},
		{"NaN is not a number", "ratio", "NaN", nil, `parameter "ratio": "NaN" is not a number`},
		{"overflow is not a number", "ratio", "1e400", nil, `"1e400" is not a number`},
		{"underflow is not a number", "ratio", "1e-400", nil, `"1e-400" is not a number`},
		{"underflow in Go syntax is not a number", "ratio", ".1e-400", nil, `".1e-400" is not a number`},
		{"plus sign", "ratio", "+2.50", json.Number("2.5"), ""},
		{"word is not number", "ratio", "half", nil, `"half" is not a number`},
		{"boolean true", "verbose", "true", true, ""},
		{"boolean TRUE", "verbose", "TRUE", true, ""},
		{"boolean 1", "verbose", "1", true, ""},
		{"boolean yes", "verbose", "Yes", true, ""},
		{"boolean false", "verbose", "false", false, ""},
		{"boolean 0", "verbose", "0", false, ""},
		{"boolean no", "verbose", "no", false, ""},
		{"not a boolean", "verbose", "maybe", nil, `parameter "verbose": "maybe" is not a boolean`},
		{"string as is", "label", " 42 ", " 42 ", ""},
		{"string keeps quotes", "label", `"x"`, `"x"`, ""},
		{"array", "channels", "[1, 2]", []any{json.Number("1"), json.Number("2")}, ""},
		{"array needs JSON", "channels", "1,2", nil, `parameter "channels": "1,2" is not an array`},
		{"object is not array", "channels", "{}", nil, "is not an array"},
		{"object", "options", `{"a": {"b": [true]}}`, map[string]any{"a": map[string]any{"b": []any{true}}}, ""},
		{"array is not object", "options", "[1]", nil, `parameter "options": "[1]" is not an object`},
		{"union first type", "limit", "5", int64(5), ""},
		{"union second type", "limit", "all", "all", ""},
		{"anyOf number", "maybe_ratio", "0.25", json.Number("0.25"), ""},
		{"anyOf null", "maybe_ratio", "null", nil, ""},
		{"anyOf neither", "maybe_ratio", "x", nil, `parameter "maybe_ratio": "x" is not a number or null`},
		{"type through $ref", "window", "[0, 1.5]", []any{json.Number("0"), json.Number("1.5")}, ""},
		{"type from enum values", "level", "2", int64(2), ""},
		{"untyped number", "anything", "5", json.Number("5"), ""},
		{"untyped boolean", "anything", "true", true, ""},
		{"untyped null", "anything", "null", nil, ""},
		{"untyped JSON string", "anything", `"5"`, "5", ""},
		{"untyped array", "anything", `[1, "a"]`, []any{json.Number("1"), "a"}, ""},
		{"untyped word", "anything", "hello", "hello", ""},
		{"untyped Python True", "anything", "True", true, ""},
		{"untyped Python False", "anything", " False ", false, ""},
		{"untyped Python None", "anything", "None", nil, ""},
		{"untyped other case stays text", "anything", "TRUE", "TRUE", ""},
		{"null type takes Python None", "maybe_ratio", "None", nil, ""},
		{"boolean Python True", "verbose", "True", true, ""},
		{"untyped broken JSON", "anything", "{bad", "{bad", ""},
		{"unknown key number", "not_in_schema", "0.05", json.Number("0.05"), ""},
		{"unknown key text", "not_in_schema", "isolation_distance", "isolation_distance", ""},
		{"unknown key empty", "not_in_schema", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Coerce(tt.key, tt.text)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !fault.IsUsage(err) {
					t.Fatalf("Coerce(%q, %q) = %#v, %v; want usage error containing %q", tt.key, tt.text, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Coerce(%q, %q): %v", tt.key, tt.text, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Coerce(%q, %q) = %#v (%T), want %#v (%T)", tt.key, tt.text, got, got, tt.want, tt.want)
			}
		})
	}
}

func TestNilSchema(t *testing.T) {
	var s *Schema
	values := map[string]any{"a": 1}
	got, filled := s.ApplyDefaults(values)
	if !reflect.DeepEqual(got, values) || filled != nil {
		t.Fatalf("ApplyDefaults = %v, %v", got, filled)
	}
	if err := s.Validate("parameters", map[string]any{"anything": []any{nil}}); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if s.Name() != "" {
		t.Fatalf("Name = %q", s.Name())
	}
	for text, want := range map[string]any{"5": json.Number("5"), "x": "x", "false": false, `{"a":null}`: map[string]any{"a": nil}} {
		if v, err := s.Coerce("k", text); err != nil || !reflect.DeepEqual(v, want) {
			t.Errorf("Coerce(%q) = %#v, %v; want %#v", text, v, err, want)
		}
	}
}

// FuzzCoerce checks that Coerce never panics, that what it returns has the declared type,
// and that a coerced value passes validation of that type.
func FuzzCoerce(f *testing.F) {
	s := mustLoadSchema(f, "testdata/schema/coerce_schema.json")
	for _, seed := range []string{"", "0", "-1", "2.0", "1e3", "1e-2000000", "9223372036854775807", "9223372036854775808",
		"0x10", "1_000", ".5", "NaN", "Inf", "true", "yes", "null", "[1,2]", `{"a":1}`, `"s"`, "{", " 7 ", "0e99999999"} {
		f.Add(seed)
	}
	keys := []string{"count", "ratio", "verbose", "label", "channels", "options", "limit", "maybe_ratio", "window", "level", "anything", "unknown"}
	f.Fuzz(func(t *testing.T, text string) {
		for _, key := range keys {
			v, err := s.Coerce(key, text)
			if err != nil {
				if !fault.IsUsage(err) || !strings.Contains(err.Error(), key) {
					t.Fatalf("Coerce(%q, %q): error %v is not a usage error naming the key", key, text, err)
				}
				continue
			}
			ok := true
			switch key {
			case "count", "level":
				_, ok = v.(int64)
			case "ratio":
				_, ok = v.(json.Number)
			case "verbose":
				_, ok = v.(bool)
			case "label":
				ok = v == text
			case "options":
				_, ok = v.(map[string]any)
			case "limit":
				switch v.(type) {
				case int64, string:
				default:
					ok = false
				}
			}
			if !ok {
				t.Fatalf("Coerce(%q, %q) = %#v (%T): wrong type", key, text, v, v)
			}
			switch key {
			case "count", "ratio", "verbose", "label", "options", "limit", "maybe_ratio":
				if err := s.Validate("parameters", map[string]any{key: v}); err != nil {
					t.Fatalf("Coerce(%q, %q) = %#v does not validate: %v", key, text, v, err)
				}
			}
		}
	})
}

func TestDefaultsValidate(t *testing.T) {
	s := mustLoadSchema(t, analysisSchema)
	got, _ := s.ApplyDefaults(valid(nil))
	if err := s.Validate("parameters", got); err != nil {
		t.Fatalf("parameters with defaults do not validate: %v", err)
	}
}

func TestValidateMessages(t *testing.T) {
	s, err := CompileSchema("rules.json", []byte(`{
		"type": "object",
		"properties": {
			"tags": {"type": "array", "uniqueItems": true, "contains": {"const": "main"}},
			"labels": {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}, "minProperties": 2},
			"kind": {"const": "unit"},
			"id": {"type": "string", "pattern": "^[0-9]+$", "minLength": 3},
			"step": {"multipleOf": 0.5, "exclusiveMinimum": 0},
			"choice": {"oneOf": [{"type": "integer"}, {"type": "number"}]},
			"other": {"not": {"type": "string"}},
			"never": false
		},
		"dependentRequired": {"start": ["end"]}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	err = s.Validate("outputs", map[string]any{
		"tags": []any{"a", "a"}, "labels": map[string]any{"Bad": 1}, "kind": "spike", "id": "x",
		"step": 0.75, "choice": 3, "other": "s", "never": 1, "start": 0,
	})
	want := `outputs invalid against schema rules.json:
  choice: must match exactly one alternative, matches 0 and 1 (oneOf)
  end: missing property, required when "start" is present (dependentRequired)
  id: must have at least 3 characters, got 1 (minLength)
  id: must match pattern "^[0-9]+$" (pattern)
  kind: must be "unit", got "spike" (const)
  labels: must have at least 2 properties, got 1 (minProperties)
  labels: property name "Bad" is invalid (propertyNames): must match pattern "^[a-z]+$" (pattern)
  never: not allowed (false schema)
  other: must not match the schema (not)
  step: must be a multiple of 0.5, got 0.75 (multipleOf)
  tags: items 0 and 1 are equal (uniqueItems)
  tags: no item matches (contains): tags/0: must be "main", got "a" (const); tags/1: must be "main", got "a" (const)`
	if err == nil || err.Error() != want {
		t.Fatalf("message:\n%v\nwant:\n%s", err, want)
	}
}

func TestDescribeOtherRules(t *testing.T) {
	// Rules without their own wording fall back to the library's text and the keyword.
	got := describe(&kind.ContentEncoding{Want: "base64", Err: errors.New("illegal base64 data")})
	if want := "value is not 'base64' encoded: illegal base64 data (contentEncoding)"; got != want {
		t.Fatalf("describe = %q, want %q", got, want)
	}
}

// FromText is the one typing rule for a value no schema types, the same in the dispatcher
// and the wrapper: JSON if the text is JSON, Python's True/False/None (Code Ocean passes
// them) as their JSON equals, else the text.
func TestFromText(t *testing.T) {
	tests := []struct {
		text string
		want any
	}{
		{"1", json.Number("1")},
		{"2.50", json.Number("2.50")},
		{"true", true},
		{"True", true},
		{"false", false},
		{"False", false},
		{"null", nil},
		{"None", nil},
		{" None ", nil},
		{"none", "none"},
		{`"True"`, "True"},
		{`[1, true, null]`, []any{json.Number("1"), true, nil}},
		{`{"a": null}`, map[string]any{"a": nil}},
		{"hello", "hello"},
		{"", ""},
		{"{bad", "{bad"},
	}
	for _, tt := range tests {
		if got := FromText(tt.text); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("FromText(%q) = %#v (%T), want %#v", tt.text, got, got, tt.want)
		}
		var s *Schema
		if got, err := s.Coerce("k", tt.text); err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("nil schema Coerce(%q) = %#v, %v; want FromText's %#v", tt.text, got, err, tt.want)
		}
	}
}

func TestPropertiesAndDeclares(t *testing.T) {
	s, err := CompileSchema("s.json", []byte(`{"type": "object", "properties": {"window": {"type": "integer"}, "alpha": {}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Properties(); !reflect.DeepEqual(got, []string{"alpha", "window"}) {
		t.Fatalf("Properties = %v", got)
	}
	for key, want := range map[string]bool{"window": true, "alpha": true, "windw": false, "": false} {
		if s.Declares(key) != want {
			t.Errorf("Declares(%q) = %v", key, !want)
		}
	}
	var none *Schema
	if none.Properties() != nil || none.Declares("window") {
		t.Fatal("a nil schema declares nothing")
	}
}
