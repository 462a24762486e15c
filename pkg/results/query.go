package results

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/docdb"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/result"
)

// RecordFinder finds records. *docdb.Collection implements it, and so must any other
// DocDB implementation: Find streams every document matching the Mongo filter to fn (in
// the order of o.Sort when set); fn returning an error stops the stream and Find returns
// it unchanged. Errors are classified (fault.Transient when DocDB is unreachable).
type RecordFinder interface {
	Find(ctx context.Context, filter any, o docdb.FindOptions, fn func(bson.Raw) error) error
}

// codePath is where the identifying Code block sits in a record.
const codePath = "processing.data_processes.0.code"

// Filter selects result records. Empty fields select everything.
type Filter struct {
	// Hashes selects records by _id.
	Hashes []string
	// AnalysisName and AnalysisTag match the analysis_name and analysis_tag parameters.
	AnalysisName, AnalysisTag string
	// Params match parameters exactly: typed values (numbers, booleans, strings, JSON).
	Params map[string]any
	// CodeURL, CodeName match the code; CodeVersions any of the versions.
	CodeURL, CodeName string
	CodeVersions      []string
	// Inputs match records having any of these input asset URLs.
	Inputs []string
	// CreatedAfter and CreatedBefore bound the created time (inclusive; zero: unbounded).
	CreatedAfter, CreatedBefore time.Time
}

// ParseParam parses --param key=value. The value is JSON when it parses as JSON (10, 0.5,
// true, "10" as a string, [1,2]), otherwise the bare string.
func ParseParam(s string) (string, any, error) {
	k, v, ok := strings.Cut(s, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return "", nil, fault.Usagef("--param %q: want key=value", s)
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	var val any
	if err := dec.Decode(&val); err == nil {
		if _, err := dec.Token(); err == io.EOF { // nothing after the value
			return k, val, nil
		}
	}
	return k, v, nil
}

// ParseTime parses a time bound: RFC 3339, or a date (2006-01-02, as UTC midnight).
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, fault.Usagef("time %q: want RFC 3339 (2026-01-02T15:04:05Z) or a date (2026-01-02)", s)
}

// Mongo returns the DocDB filter: equality, $in and string ranges only, which FerretDB v1
// supports. The time range is widened by a day on each side, because created strings
// carry zone offsets; Match applies it exactly.
func (f Filter) Mongo() bson.D {
	q := bson.D{}
	add := func(k string, v any) { q = append(q, bson.E{Key: k, Value: v}) }
	if len(f.Hashes) > 0 {
		add("_id", bson.D{{Key: "$in", Value: f.Hashes}})
	}
	if f.AnalysisName != "" {
		add(codePath+".parameters.analysis_name", f.AnalysisName)
	}
	if f.AnalysisTag != "" {
		add(codePath+".parameters.analysis_tag", f.AnalysisTag)
	}
	for _, k := range sortedKeys(f.Params) {
		add(codePath+".parameters."+k, mongoValue(f.Params[k]))
	}
	if f.CodeURL != "" {
		add(codePath+".url", f.CodeURL)
	}
	if f.CodeName != "" {
		add(codePath+".name", f.CodeName)
	}
	if len(f.CodeVersions) > 0 {
		add(codePath+".version", bson.D{{Key: "$in", Value: f.CodeVersions}})
	}
	if len(f.Inputs) > 0 {
		add(codePath+".input_data.url", bson.D{{Key: "$in", Value: f.Inputs}})
	}
	var rng bson.D
	if !f.CreatedAfter.IsZero() {
		rng = append(rng, bson.E{Key: "$gte", Value: f.CreatedAfter.UTC().Add(-24 * time.Hour).Format("2006-01-02")})
	}
	if !f.CreatedBefore.IsZero() {
		rng = append(rng, bson.E{Key: "$lte", Value: f.CreatedBefore.UTC().Add(24*time.Hour).Format("2006-01-02") + "~"})
	}
	if len(rng) > 0 {
		add("created", rng)
	}
	return q
}

// mongoValue converts a parsed parameter value for the filter: a number matches its
// stored int or double form.
func mongoValue(v any) any {
	n, ok := v.(json.Number)
	if !ok {
		return v
	}
	if i, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
		return bson.D{{Key: "$in", Value: bson.A{i, int32Or(i), float64(i)}}}
	}
	fl, _ := n.Float64()
	return fl
}

// int32Or returns i as an int32 when it fits (else i): the driver stores small ints so.
func int32Or(i int64) any {
	if i == int64(int32(i)) {
		return int32(i)
	}
	return i
}

// Match applies what the Mongo filter only approximates (the exact time range).
func (f Filter) Match(r result.Record) bool {
	if f.CreatedAfter.IsZero() && f.CreatedBefore.IsZero() {
		return true
	}
	t := r.CreatedTime()
	if t.IsZero() {
		return false
	}
	return (f.CreatedAfter.IsZero() || !t.Before(f.CreatedAfter)) && (f.CreatedBefore.IsZero() || !t.After(f.CreatedBefore))
}

// Query returns the records matching f, oldest first, and with latest only the newest per
// identical (code url, name, run script, inputs, parameters), ignoring the code version.
func Query(ctx context.Context, finder RecordFinder, f Filter, latest bool) ([]result.Record, error) {
	var recs []result.Record
	err := finder.Find(ctx, f.Mongo(), docdb.FindOptions{BatchSize: 1000}, func(doc bson.Raw) error {
		r, err := result.DecodeRecord(doc)
		if err != nil {
			return err
		}
		if f.Match(r) {
			recs = append(recs, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(recs, func(i, j int) bool {
		ti, tj := recs[i].CreatedTime(), recs[j].CreatedTime()
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return recs[i].ID < recs[j].ID
	})
	if latest {
		return Latest(recs), nil
	}
	return recs, nil
}

// Latest keeps the newest record (by created) per identical code block without its
// version, in the order of recs. Ties keep the later one in recs.
func Latest(recs []result.Record) []result.Record {
	best := map[string]int{}
	var order []string
	for i, r := range recs {
		k := VersionlessKey(r)
		j, ok := best[k]
		if !ok {
			order = append(order, k)
		}
		if !ok || !r.CreatedTime().Before(recs[j].CreatedTime()) {
			best[k] = i
		}
	}
	idx := make([]int, 0, len(order))
	for _, k := range order {
		idx = append(idx, best[k])
	}
	sort.Ints(idx)
	out := make([]result.Record, 0, len(idx))
	for _, i := range idx {
		out = append(out, recs[i])
	}
	return out
}

// VersionlessKey is the identity of a record's code block with the version left out.
func VersionlessKey(r result.Record) string {
	c := r.Process().Code
	c.Version = ""
	c = identity.NewCode(c.CodeInfo, c.Parameters, urls(c.InputData))
	b, err := identity.Canonical(c)
	if err != nil {
		return r.ID
	}
	return string(bytes.TrimSpace(b))
}

func urls(in []identity.DataAsset) []string {
	out := make([]string, 0, len(in))
	for _, d := range in {
		out = append(out, d.URL)
	}
	return out
}

// FindOne returns the record with _id = hash; the error names the hash when none exists.
func FindOne(ctx context.Context, finder RecordFinder, hash string) (result.Record, error) {
	recs, err := Query(ctx, finder, Filter{Hashes: []string{hash}}, false)
	if err != nil {
		return result.Record{}, err
	}
	if len(recs) == 0 {
		return result.Record{}, fault.Permanent(fmt.Errorf("no result record with hash %s", hash))
	}
	return recs[0], nil
}
