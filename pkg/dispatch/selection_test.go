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
