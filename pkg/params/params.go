// Package params owns analysis parameters: reading analysis_parameters.json (the
// fixed_parameters object, the older analysis_parameter object and the
// distributed_parameters sweep), and merging parameter layers with the provenance of
// every value, in the one precedence order the dispatcher and the wrapper share:
// file (analysis_parameter < fixed_parameters) < command line < the job's own slice.
// It also owns the analysis's JSON Schemas for parameters and outputs (schema.go):
// defaults, validation with every failing field named, and typing command-line values.
package params

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// FileName is the parameters file's name in the input directory.
const FileName = "analysis_parameters.json"

// File is the content of analysis_parameters.json.
type File struct {
	// Path is where the file was read from ("" when there was none).
	Path string `json:"-"`
	// Fixed holds parameters shared by every job ("fixed_parameters").
	Fixed map[string]any `json:"fixed_parameters"`
	// Legacy is the older single-object form ("analysis_parameter"); Fixed wins over it.
	Legacy map[string]any `json:"analysis_parameter"`
	// Distributed is the sweep: each job is repeated once per entry ("distributed_parameters").
	Distributed []map[string]any `json:"distributed_parameters"`
}

// Locate returns the parameters file for an input directory: <dir>/analysis_parameters.json,
// else <dir>/analysis_parameters/analysis_parameters.json (the wrapper template's layout),
// else "" when neither exists.
func Locate(dir string) string {
	for _, p := range []string{filepath.Join(dir, FileName), filepath.Join(dir, "analysis_parameters", FileName)} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// Load reads a parameters file. A path of "" gives an empty File. Errors are usage errors
// naming the file and the field.
func Load(path string) (File, error) {
	if path == "" {
		return File{}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return File{}, fault.Usagef("parameters file %s: does not exist", path)
		}
		return File{}, fault.Usagef("parameters file: %w", err)
	}
	f, err := Parse(data)
	if err != nil {
		return File{}, fault.Usagef("parameters file %s: %w", path, err)
	}
	f.Path = path
	return f, nil
}

// Parse decodes analysis_parameters.json content. Numbers keep their exact text
// (json.Number), so large integers are not rounded.
func Parse(data []byte) (File, error) {
	var raw map[string]json.RawMessage
	if err := decode(data, &raw); err != nil {
		return File{}, fmt.Errorf("invalid JSON: %w", err)
	}
	var f File
	for key, dst := range map[string]any{"fixed_parameters": &f.Fixed, "analysis_parameter": &f.Legacy, "distributed_parameters": &f.Distributed} {
		v, ok := raw[key]
		if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			continue
		}
		if err := decode(v, dst); err != nil {
			want := "an object"
			if key == "distributed_parameters" {
				want = "a list of objects"
			}
			return File{}, fmt.Errorf("field %q: must be %s: %w", key, want, err)
		}
	}
	for i, d := range f.Distributed {
		if d == nil {
			return File{}, fmt.Errorf("field \"distributed_parameters\"[%d]: must be an object, found null", i)
		}
	}
	return f, nil
}

func decode(data []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(dst)
}

// Layer is one source of parameter values. Layers merge in order; a later layer wins.
type Layer struct {
	// Source names where the values came from, for the override log ("fixed_parameters",
	// "command line", "job distributed_parameters").
	Source string
	// Values are the parameters of this layer.
	Values map[string]any
}

// Override records one value replaced by a later layer.
type Override struct {
	Key      string
	Source   string // the layer that won
	Previous string // the layer that lost
	Old, New any
}

// Layers returns the file's layers in precedence order: analysis_parameter, then
// fixed_parameters.
func (f File) Layers() []Layer {
	return []Layer{{Source: "analysis_parameter", Values: f.Legacy}, {Source: "fixed_parameters", Values: f.Fixed}}
}

// Merge merges layers, later winning, into a new map, and reports every value that a
// later layer replaced with a different value (sorted by key, in layer order).
func Merge(layers ...Layer) (map[string]any, []Override) {
	out := map[string]any{}
	from := map[string]string{}
	var overrides []Override
	for _, l := range layers {
		keys := make([]string, 0, len(l.Values))
		for k := range l.Values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := l.Values[k]
			if old, ok := out[k]; ok && !reflect.DeepEqual(old, v) {
				overrides = append(overrides, Override{Key: k, Source: l.Source, Previous: from[k], Old: old, New: v})
			}
			out[k] = v
			from[k] = l.Source
		}
	}
	return out, overrides
}

// Resolve merges layers (later wins) and fills the schema's defaults for absent keys: the
// parameters a job runs with and is identified by. The dispatcher (to skip work already
// done) and the wrapper both call it, so they hash the same parameters. It returns the
// overrides and the keys filled by defaults, for the log. A nil schema fills nothing.
func Resolve(schema *Schema, layers ...Layer) (map[string]any, []Override, []string) {
	merged, overrides := Merge(layers...)
	merged, filled := schema.ApplyDefaults(merged)
	return merged, overrides, filled
}
