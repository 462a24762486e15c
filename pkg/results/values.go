// Package results owns finding and reading analysis results after they ran: querying the
// result records (by analysis, parameters, inputs, code and time), flattening them into
// tables, downloading result folders verified against their manifests, and summarising one
// pipeline run's output folder as a Markdown and a self-contained HTML report.
//
// What it reads is laid out by pkg/result (result folders, manifest.json, the skip_ and
// failed_ markers, the Record); this package only finds, tabulates and reports. It reads
// records through RecordFinder and files through storage.Store, so any DocDB
// implementation (the Mongo driver, an HTTP gateway) and any storage backend plug in.
package results

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Flatten turns a nested JSON object into dotted keys: {"a": {"b": 1}} -> {"a.b": 1}.
// Lists stay values (formatted as JSON by FormatValue).
func Flatten(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
			Flatten(key, sub, out)
			continue
		}
		out[key] = v
	}
}

// FormatValue renders a JSON value as a table cell: strings bare, numbers as written,
// booleans as true/false, null as "", lists and objects as compact JSON.
func FormatValue(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case json.Number:
		return t.String()
	case bool, float64, int, int64:
		return fmt.Sprint(t)
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return fmt.Sprint(t)
		}
		return string(b)
	}
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// joinInputs renders input URLs as one cell.
func joinInputs(in []string) string { return strings.Join(in, " ") }
