// Package results owns finding and reading analysis results after they ran: querying the
// result records (by analysis, parameters, inputs, code and time), flattening them into
// tables, downloading result folders verified against their manifests, and summarising one
// pipeline run's output folder as a Markdown and a self-contained HTML report.
//
// It reads records through RecordFinder and files through storage.Store, so any DocDB
// implementation (the Mongo driver, an HTTP gateway) and any storage backend plug in.
package results

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
)

// Record is one result record: the wrapper's Metadata with its DocDB _id (the hash).
type Record struct {
	ID string `json:"_id"`
	identity.Metadata
}

// DecodeRecord decodes a DocDB document into a Record. Numbers in parameters and outputs
// are kept as json.Number, so 10 stays "10" and 0.25 stays "0.25" in tables.
func DecodeRecord(doc bson.Raw) (Record, error) {
	b, err := bson.MarshalExtJSON(doc, false, false)
	if err != nil {
		return Record{}, fmt.Errorf("decoding record: %w", err)
	}
	return ParseRecord(b)
}

// ParseRecord decodes a record from JSON (a DocDB document as relaxed extended JSON, or a
// metadata.nd.json file).
func ParseRecord(b []byte) (Record, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var r Record
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("decoding record: %w", err)
	}
	if r.ID == "" {
		r.ID = r.Name
	}
	return r, nil
}

// Process returns the record's first data process (the analysis), or a zero one.
func (r Record) Process() identity.DataProcess {
	if len(r.Processing.DataProcesses) == 0 {
		return identity.DataProcess{}
	}
	return r.Processing.DataProcesses[0]
}

// Inputs returns the input asset URLs.
func (r Record) Inputs() []string {
	var out []string
	for _, d := range r.Process().Code.InputData {
		out = append(out, d.URL)
	}
	return out
}

// CreatedTime parses the record's created timestamp (zero if absent or malformed).
func (r Record) CreatedTime() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, r.Created)
	return t
}

// Duration is the analysis' run time, from the start and end timestamps (0 if unknown).
func (r Record) Duration() time.Duration {
	p := r.Process()
	s, err1 := time.Parse(time.RFC3339Nano, p.StartDateTime)
	e, err2 := time.Parse(time.RFC3339Nano, p.EndDateTime)
	if err1 != nil || err2 != nil {
		return 0
	}
	return e.Sub(s)
}

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
