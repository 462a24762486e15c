package mongopath

import (
	"encoding/json"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// lookup resolves a dotted path in doc (see Resolve); ok is false when it is missing.
func lookup(doc bson.Raw, path string) (v bson.RawValue, ok bool) {
	return Resolve(Document(doc), Split(path))
}

// isNull reports whether a dotted path holds no non-null value in doc (see HasValue).
func isNull(doc bson.Raw, path string) bool { return !HasValue(Document(doc), Split(path)) }

// pathDocs are the documents of the path-resolution table, by _id. FerretDB v1 cannot
// store nested lists, so the ones marked goOnly are checked against Mongo's documented
// rules in Go only.
var pathDocs = []bson.D{
	{{Key: "_id", Value: "scalar"}, {Key: "a", Value: bson.D{{Key: "b", Value: "x"}}}},
	{{Key: "_id", Value: "null"}, {Key: "a", Value: bson.D{{Key: "b", Value: nil}}}},
	{{Key: "_id", Value: "missing"}, {Key: "a", Value: bson.D{{Key: "c", Value: 1}}}},
	{{Key: "_id", Value: "parent missing"}},
	{{Key: "_id", Value: "parent scalar"}, {Key: "a", Value: "s"}},
	{{Key: "_id", Value: "list"}, {Key: "a", Value: bson.A{bson.D{{Key: "b", Value: "x"}}, bson.D{{Key: "b", Value: "y"}}}}},
	{{Key: "_id", Value: "list with null"}, {Key: "a", Value: bson.A{bson.D{{Key: "b", Value: "x"}}, bson.D{{Key: "b", Value: nil}}}}},
	{{Key: "_id", Value: "list of nulls"}, {Key: "a", Value: bson.A{bson.D{{Key: "b", Value: nil}}}}},
	{{Key: "_id", Value: "list with missing"}, {Key: "a", Value: bson.A{bson.D{{Key: "b", Value: "x"}}, bson.D{{Key: "c", Value: 1}}}}},
	{{Key: "_id", Value: "list with scalar"}, {Key: "a", Value: bson.A{1, bson.D{{Key: "b", Value: "x"}}}}},
	{{Key: "_id", Value: "empty list"}, {Key: "a", Value: bson.A{}}},
	{{Key: "_id", Value: "list all missing"}, {Key: "a", Value: bson.A{bson.D{{Key: "c", Value: 1}}}}},
	{{Key: "_id", Value: "list of scalars"}, {Key: "a", Value: bson.A{"p", "q"}}},
	{{Key: "_id", Value: "list at leaf"}, {Key: "a", Value: bson.D{{Key: "b", Value: bson.A{"x", "y"}}}}},
	{{Key: "_id", Value: "list of lists"}, {Key: "a", Value: bson.A{bson.D{{Key: "b", Value: bson.A{"x"}}}, bson.D{{Key: "b", Value: "y"}}}}},
	{{Key: "_id", Value: "nested lists"}, {Key: "a", Value: bson.A{bson.A{bson.D{{Key: "b", Value: "x"}}, 2}, bson.D{{Key: "b", Value: "y"}}, bson.A{}}}},
}

// goOnly marks documents FerretDB cannot store (nested arrays).
var goOnly = map[string]bool{"nested lists": true}

// pathCase is one row of the path-resolution table: the key Mongo's $group gives a
// document for a path (JSON; "null" for missing or null, as $group keys both), and
// whether {path: {$ne: null}} keeps it (what drop_null_groups keeps).
type pathCase struct {
	doc, path string
	key       string
	kept      bool
}

var pathCases = []pathCase{
	{"scalar", "a.b", `"x"`, true},
	{"null", "a.b", `null`, false},
	{"missing", "a.b", `null`, false},
	{"parent missing", "a.b", `null`, false},
	{"parent scalar", "a.b", `null`, false},
	{"list", "a.b", `["x","y"]`, true},
	{"list with null", "a.b", `["x",null]`, true},
	{"list of nulls", "a.b", `[null]`, false},
	{"list with missing", "a.b", `["x"]`, true},
	{"list with scalar", "a.b", `["x"]`, true},
	{"empty list", "a.b", `[]`, false},
	{"empty list", "a", `[]`, true},
	{"list all missing", "a.b", `[]`, false},
	{"list of scalars", "a.b", `[]`, false},
	{"list of scalars", "a", `["p","q"]`, true},
	{"list at leaf", "a.b", `["x","y"]`, true},
	{"list of lists", "a.b", `[["x"],"y"]`, true},
	{"list", "a", `[{"b":"x"},{"b":"y"}]`, true},
	{"nested lists", "a.b", `[["x"],"y",[]]`, true},
	// A numeric component is a field name in aggregation paths, never an index.
	{"list of scalars", "a.0", `[]`, false},
	{"list", "a.0", `[]`, false},
	{"scalar", "a.0", `null`, false},
}

// numericPath reports whether a path has a numeric component: find's {$ne: null} indexes
// lists there, aggregation paths do not, so only the $group key is compared for them.
func numericPath(p string) bool {
	for _, c := range strings.Split(p, ".") {
		if c != "" && strings.Trim(c, "0123456789") == "" {
			return true
		}
	}
	return false
}

// pathDoc returns the table's document with _id id.
func pathDoc(t *testing.T, id string) bson.Raw {
	t.Helper()
	for _, d := range pathDocs {
		if d[0].Value == id {
			b, err := bson.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("no document %q", id)
	return nil
}

// keyJSON renders a resolved value as the table writes it.
func keyJSON(t *testing.T, v bson.RawValue, ok bool) string {
	t.Helper()
	var x any
	if ok {
		x = Plain(v)
	}
	b, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPathResolution runs the table through the Go code alone (nested lists included);
// TestPathResolutionAgreesWithTheDatabase runs it through FerretDB too.
func TestPathResolution(t *testing.T) {
	for _, c := range pathCases {
		t.Run(c.doc+"/"+c.path, func(t *testing.T) {
			doc := pathDoc(t, c.doc)
			v, ok := lookup(doc, c.path)
			if got := keyJSON(t, v, ok); got != c.key {
				t.Errorf("lookup = %s, want %s", got, c.key)
			}
			if kept := !isNull(doc, c.path); kept != c.kept {
				t.Errorf("kept by drop_null_groups = %v, want %v", kept, c.kept)
			}
		})
	}
}
