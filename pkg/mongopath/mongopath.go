// Package mongopath holds Mongo's rules for dotted field paths over BSON documents, written
// in Go where the database cannot evaluate them (FerretDB v1's aggregation is limited, so the
// dispatcher selects in Go after one find): how a path resolves through lists (Resolve, as
// "$a.b" in $group), when a path counts as null (HasValue, as {path: {$ne: null}}), and the
// plain value a resolved path gives (Plain). The table test in this package runs the same
// cases through FerretDB and through this code.
package mongopath

import (
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Split splits a dotted path ("data_description.modality.abbreviation") into its
// components.
func Split(path string) []string { return strings.Split(path, ".") }

// Document is doc as a value, the start of a path's resolution.
func Document(doc bson.Raw) bson.RawValue {
	return bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: doc}
}

// Resolve evaluates a path (its components) from v as Mongo's aggregation does ("$a.b"
// in $group, which the upstream selection used), one component at a time:
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
// ok is false when the path is missing; $group keys missing and null alike.
func Resolve(v bson.RawValue, parts []string) (bson.RawValue, bool) {
	if len(parts) == 0 {
		return v, true
	}
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		f, err := v.Document().LookupErr(parts[0])
		if err != nil {
			return bson.RawValue{}, false
		}
		return Resolve(f, parts[1:])
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
			if x, ok := Resolve(e, parts); ok {
				out = append(out, bsoncore.Value{Type: bsoncore.Type(x.Type), Data: x.Value})
			}
		case bson.TypeArray:
			x := resolveList(e, parts)
			out = append(out, bsoncore.Value{Type: bsoncore.Type(x.Type), Data: x.Value})
		}
	}
	return bson.RawValue{Type: bson.TypeArray, Value: bsoncore.BuildArray(nil, out...)}
}

// HasValue reports whether the path reaches a non-null value from v, by Resolve's
// traversal: a value at the end of the path counts unless it is null (an empty list found
// there counts); through a list, any element that reaches a non-null value is enough. So a
// path is null when it is missing, null, or goes through lists and reaches no non-null
// value ([], [null]). This is Mongo's {path: {$ne: null}} as FerretDB evaluates it for
// paths without a numeric component (find indexes lists there; MongoDB itself also drops
// a list with one null among values).
func HasValue(v bson.RawValue, parts []string) bool {
	if len(parts) == 0 {
		return v.Type != bson.TypeNull && v.Type != bson.TypeUndefined && v.Type != 0
	}
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		f, err := v.Document().LookupErr(parts[0])
		return err == nil && HasValue(f, parts[1:])
	case bson.TypeArray:
		vals, _ := v.Array().Values()
		for _, e := range vals {
			if (e.Type == bson.TypeEmbeddedDocument || e.Type == bson.TypeArray) && HasValue(e, parts) {
				return true
			}
		}
	}
	return false
}

// Plain converts a BSON value to the plain Go value it is in JSON: objects become maps,
// arrays slices, null and undefined nil, dates RFC 3339 strings, ObjectIDs hex strings,
// integers int64.
func Plain(v bson.RawValue) any {
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
			m[e.Key()] = Plain(e.Value())
		}
		return m
	case bson.TypeArray:
		vals, _ := v.Array().Values()
		out := make([]any, len(vals))
		for i, e := range vals {
			out[i] = Plain(e)
		}
		return out
	default:
		return v.String()
	}
}
