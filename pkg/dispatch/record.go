package dispatch

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/mongopath"
)

// record is one data-asset record as the selection needs it: its id, name and location,
// the projected document, and the values that unwinding substituted for list fields.
type record struct {
	id       string
	name     string
	location string
	doc      bson.Raw
	unwound  map[string]bson.RawValue
}

func newRecord(raw bson.Raw) (*record, error) {
	doc := make(bson.Raw, len(raw))
	copy(doc, raw) // the cursor reuses its buffer
	r := &record{doc: doc}
	idv, err := doc.LookupErr("_id")
	if err != nil {
		return nil, errors.New("record without _id")
	}
	r.id = idString(idv)
	if v, ok := doc.Lookup("name").StringValueOK(); ok {
		r.name = v
	}
	if v, ok := doc.Lookup("location").StringValueOK(); ok {
		r.location = v
	}
	return r, nil
}

func idString(v bson.RawValue) string {
	if s, ok := v.StringValueOK(); ok {
		return s
	}
	if oid, ok := v.ObjectIDOK(); ok {
		return oid.Hex()
	}
	return v.String()
}

// lookup returns the value at a dotted path ("subject.subject_id",
// "data_description.modality.abbreviation"), looking through unwound values first, by
// Mongo's aggregation path rules (mongopath.Resolve). ok is false when the path is missing.
func (r *record) lookup(path string) (bson.RawValue, bool) {
	v, parts := r.start(path)
	return mongopath.Resolve(v, parts)
}

// isNull reports whether the path holds no non-null value: it is missing, null, or goes
// through lists none of whose elements has a non-null value there (mongopath.HasValue).
// These are the records drop_null_groups drops.
func (r *record) isNull(path string) bool {
	v, parts := r.start(path)
	return !mongopath.HasValue(v, parts)
}

// start returns where a path's resolution begins: the unwound value the path is at or
// under (with the rest of the path), else the whole document.
func (r *record) start(path string) (bson.RawValue, []string) {
	for p, v := range r.unwound {
		if path == p {
			return v, nil
		}
		if strings.HasPrefix(path, p+".") {
			return v, mongopath.Split(strings.TrimPrefix(path, p+"."))
		}
	}
	return mongopath.Document(r.doc), mongopath.Split(path)
}

// with returns a copy of r whose path holds v (an unwound list element).
func (r *record) with(path string, v bson.RawValue) *record {
	c := *r
	c.unwound = make(map[string]bson.RawValue, len(r.unwound)+1)
	for k, e := range r.unwound {
		c.unwound[k] = e
	}
	c.unwound[path] = v
	return &c
}

// valueKey is a value's identity for grouping: equal JSON values (2 and 2.0 included)
// give equal keys, as in Mongo's $group.
func valueKey(v any) string {
	c, err := identity.Canonical(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(c)
}

// compareValues orders two BSON values for "latest": numbers numerically, dates by time,
// RFC 3339 timestamp strings by the instant they name (records mix zone offsets), other
// strings lexically, otherwise by type then text. A missing value sorts lowest.
func compareValues(a, b bson.RawValue, aok, bok bool) int {
	switch {
	case !aok && !bok:
		return 0
	case !aok:
		return -1
	case !bok:
		return 1
	}
	if fa, ok := number(a); ok {
		if fb, ok := number(b); ok {
			switch {
			case fa < fb:
				return -1
			case fa > fb:
				return 1
			}
			return 0
		}
	}
	if a.Type == bson.TypeDateTime && b.Type == bson.TypeDateTime {
		return a.Time().Compare(b.Time())
	}
	if sa, ok := a.StringValueOK(); ok {
		if sb, ok := b.StringValueOK(); ok {
			ta, erra := time.Parse(time.RFC3339Nano, sa)
			tb, errb := time.Parse(time.RFC3339Nano, sb)
			if erra == nil && errb == nil {
				return ta.Compare(tb) // timestamps with different zone offsets
			}
			return strings.Compare(sa, sb)
		}
	}
	if a.Type != b.Type {
		if a.Type < b.Type {
			return -1
		}
		return 1
	}
	return strings.Compare(a.String(), b.String())
}

func number(v bson.RawValue) (float64, bool) {
	switch v.Type {
	case bson.TypeInt32:
		return float64(v.Int32()), true
	case bson.TypeInt64:
		return float64(v.Int64()), true
	case bson.TypeDouble:
		return v.Double(), true
	}
	return 0, false
}
