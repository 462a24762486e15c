package dispatch

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/docdb"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
)

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

func pathRecord(t *testing.T, id string) *record {
	t.Helper()
	for _, d := range pathDocs {
		if d[0].Value == id {
			b, err := bson.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			r, err := newRecord(b)
			if err != nil {
				t.Fatal(err)
			}
			return r
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
		x = jsonValue(v)
	}
	b, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPathResolution(t *testing.T) {
	for _, c := range pathCases {
		t.Run(c.doc+"/"+c.path, func(t *testing.T) {
			r := pathRecord(t, c.doc)
			v, ok := r.lookup(c.path)
			if got := keyJSON(t, v, ok); got != c.key {
				t.Errorf("lookup = %s, want %s", got, c.key)
			}
			if kept := !r.isNull(c.path); kept != c.kept {
				t.Errorf("kept by drop_null_groups = %v, want %v", kept, c.kept)
			}
		})
	}
}

// fakeFinder serves documents in the order given (already sorted by _id).
type fakeFinder []bson.D

func (f fakeFinder) Find(_ context.Context, _ any, _ docdb.FindOptions, fn func(bson.Raw) error) error {
	for _, d := range f {
		b, err := bson.Marshal(d)
		if err != nil {
			return err
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

func asset(id string, fields ...bson.E) bson.D {
	return append(bson.D{{Key: "_id", Value: id}, {Key: "name", Value: "asset_" + id}, {Key: "location", Value: "s3://b/" + id}}, fields...)
}

func TestSelectionOrder(t *testing.T) {
	// A and B are two records of session X; B is later but has no subject.
	a := asset("A", bson.E{Key: "subject", Value: bson.D{{Key: "subject_id", Value: "S"}}}, bson.E{Key: "session", Value: "X"}, bson.E{Key: "created", Value: "2025-01-10T00:00:00Z"})
	b := asset("B", bson.E{Key: "subject", Value: bson.D{{Key: "subject_id", Value: nil}}}, bson.E{Key: "session", Value: "X"}, bson.E{Key: "created", Value: "2025-03-10T00:00:00Z"})
	c := asset("C", bson.E{Key: "session", Value: "Y"}, bson.E{Key: "created", Value: "2025-03-10T00:00:00Z"})
	mod := func(abbr ...any) bson.E {
		var l bson.A
		for _, x := range abbr {
			l = append(l, bson.D{{Key: "abbreviation", Value: x}, {Key: "name", Value: "n"}})
		}
		return bson.E{Key: "data_description", Value: bson.D{{Key: "modality", Value: l}}}
	}
	tests := []struct {
		name  string
		docs  []bson.D
		opts  Options
		want  []string // "ids|group_metadata JSON"
		stats Stats
	}{
		{
			name:  "null group fields are dropped before keeping the latest",
			docs:  []bson.D{a, b, c},
			opts:  Options{FilterLatest: "created", FilterBy: []string{"session"}, GroupBy: []string{"subject.subject_id"}, DropNullGroups: true},
			want:  []string{`A|{"subject__subject_id":"S"}`},
			stats: Stats{Records: 3, DroppedNull: 2, Groups: 1},
		},
		{
			name:  "keeping null groups, the latest record wins whatever its group",
			docs:  []bson.D{a, b, c},
			opts:  Options{FilterLatest: "created", FilterBy: []string{"session"}, GroupBy: []string{"subject.subject_id"}},
			want:  []string{`B,C|{"subject__subject_id":null}`},
			stats: Stats{Records: 3, NotLatest: 1, Groups: 1},
		},
		{
			name:  "null filter_by fields are dropped too",
			docs:  []bson.D{a, c, asset("D", bson.E{Key: "created", Value: "2025-04-01T00:00:00Z"})},
			opts:  Options{FilterLatest: "created", FilterBy: []string{"session"}, DropNullGroups: true},
			want:  []string{`A|null`, `C|null`},
			stats: Stats{Records: 3, DroppedNull: 1},
		},
		{
			name: "group by a path through a list of objects",
			docs: []bson.D{
				asset("m1", mod("ecephys", "behavior")),
				asset("m2", mod("behavior")),
				asset("m3", mod("ecephys", "behavior")),
				asset("m4", mod()),
			},
			opts: Options{GroupBy: []string{"data_description.modality.abbreviation"}, DropNullGroups: true},
			want: []string{
				`m1,m3|{"data_description__modality__abbreviation":["ecephys","behavior"]}`,
				`m2|{"data_description__modality__abbreviation":["behavior"]}`,
			},
			stats: Stats{Records: 4, DroppedNull: 1, Groups: 2},
		},
		{
			name: "unwind the list, then group by the path under it",
			docs: []bson.D{asset("m1", mod("ecephys", "behavior")), asset("m2", mod("behavior"))},
			opts: Options{UnwindListFields: []string{"data_description.modality"}, GroupBy: []string{"data_description.modality.abbreviation"}, DropNullGroups: true},
			want: []string{
				`m1,m2|{"data_description__modality__abbreviation":"behavior"}`,
				`m1|{"data_description__modality__abbreviation":"ecephys"}`,
			},
			stats: Stats{Records: 2, Groups: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &dispatcher{opts: tt.opts, finder: fakeFinder(tt.docs), progress: NoProgress{}}
			var got []string
			err := d.selectJobs(context.Background(), func(j job.Job) error {
				meta, _ := json.Marshal(j.GroupMetadata)
				got = append(got, strings.Join(j.DocDBRecordID, ",")+"|"+string(meta))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 {
				got = nil
			}
			sortStrings(got)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("jobs\n got %q\nwant %q", got, tt.want)
			}
			if d.stats != tt.stats {
				t.Errorf("stats %+v, want %+v", d.stats, tt.stats)
			}
		})
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
