package dispatch

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
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
// Mongo's aggregation path rules (see resolve). ok is false when the path is missing.
func (r *record) lookup(path string) (bson.RawValue, bool) {
	v, parts := r.start(path)
	return resolve(v, parts)
}

// isNull reports whether the path holds no non-null value: it is missing, null, or goes
// through lists none of whose elements has a non-null value there (see hasValue). These
// are the records drop_null_groups drops.
func (r *record) isNull(path string) bool {
	v, parts := r.start(path)
	return !hasValue(v, parts)
}

// start returns where a path's resolution begins: the unwound value the path is at or
// under (with the rest of the path), else the whole document.
func (r *record) start(path string) (bson.RawValue, []string) {
	for p, v := range r.unwound {
		if path == p {
			return v, nil
		}
		if strings.HasPrefix(path, p+".") {
			return v, strings.Split(strings.TrimPrefix(path, p+"."), ".")
		}
	}
	return bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: r.doc}, strings.Split(path, ".")
}

// resolve evaluates a dotted field path as Mongo's aggregation does ("$a.b" in $group,
// which the upstream selection used), one component at a time:
//
//   - on a document, the component is a field name; a missing field makes the path missing;
//   - on a list, the rest of the path is applied to every element and the result is the
//     list of what was found, in order: an object element contributes its value (left out
//     when missing there; a null stays null), a nested list contributes its own resolved
//     list (nesting is kept), a scalar element contributes nothing. The result may be [];
//   - on a scalar (or null), the path is missing;
//   - a numeric component ("a.0") is a field name like any other, not an array index.
//
// So {modality: [{abbreviation: "ecephys"}, {abbreviation: "behavior"}]} gives
// data_description.modality.abbreviation = ["ecephys", "behavior"], a group key of its own.
func resolve(v bson.RawValue, parts []string) (bson.RawValue, bool) {
	if len(parts) == 0 {
		return v, true
	}
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		f, err := v.Document().LookupErr(parts[0])
		if err != nil {
			return bson.RawValue{}, false
		}
		return resolve(f, parts[1:])
	case bson.TypeArray:
		return resolveList(v, parts), true
	}
	return bson.RawValue{}, false
}

func resolveList(v bson.RawValue, parts []string) bson.RawValue {
	vals, _ := v.Array().Values()
	var out []bsoncore.Value
	for _, e := range vals {
		switch e.Type {
		case bson.TypeEmbeddedDocument:
			if x, ok := resolve(e, parts); ok {
				out = append(out, bsoncore.Value{Type: bsoncore.Type(x.Type), Data: x.Value})
			}
		case bson.TypeArray:
			x := resolveList(e, parts)
			out = append(out, bsoncore.Value{Type: bsoncore.Type(x.Type), Data: x.Value})
		}
	}
	return bson.RawValue{Type: bson.TypeArray, Value: bsoncore.BuildArray(nil, out...)}
}

// hasValue reports whether the path reaches a non-null value, by resolve's traversal: a
// value at the end of the path counts unless it is null (an empty list found there
// counts); through a list, any element that reaches a non-null value is enough. This is
// Mongo's {path: {$ne: null}} as FerretDB evaluates it for non-numeric paths (MongoDB
// itself also drops a list with one null among values).
func hasValue(v bson.RawValue, parts []string) bool {
	if len(parts) == 0 {
		return v.Type != bson.TypeNull && v.Type != bson.TypeUndefined && v.Type != 0
	}
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		f, err := v.Document().LookupErr(parts[0])
		return err == nil && hasValue(f, parts[1:])
	case bson.TypeArray:
		vals, _ := v.Array().Values()
		for _, e := range vals {
			if (e.Type == bson.TypeEmbeddedDocument || e.Type == bson.TypeArray) && hasValue(e, parts) {
				return true
			}
		}
	}
	return false
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

// jsonValue converts a BSON value to the plain Go value it is in JSON: objects become
// maps, arrays slices, dates RFC 3339 strings, ObjectIDs hex strings.
func jsonValue(v bson.RawValue) any {
	switch v.Type {
	case bson.TypeString:
		return v.StringValue()
	case bson.TypeInt32:
		return int64(v.Int32())
	case bson.TypeInt64:
		return v.Int64()
	case bson.TypeDouble:
		return v.Double()
	case bson.TypeBoolean:
		return v.Boolean()
	case bson.TypeNull, bson.TypeUndefined:
		return nil
	case bson.TypeDateTime:
		return v.Time().UTC().Format(time.RFC3339Nano)
	case bson.TypeObjectID:
		return v.ObjectID().Hex()
	case bson.TypeEmbeddedDocument:
		elems, _ := v.Document().Elements()
		m := make(map[string]any, len(elems))
		for _, e := range elems {
			m[e.Key()] = jsonValue(e.Value())
		}
		return m
	case bson.TypeArray:
		vals, _ := v.Array().Values()
		out := make([]any, len(vals))
		for i, e := range vals {
			out[i] = jsonValue(e)
		}
		return out
	default:
		return v.String()
	}
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
