package dispatch

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func rawValue(t *testing.T, v any) bson.RawValue {
	t.Helper()
	doc, err := bson.Marshal(bson.D{{Key: "v", Value: v}})
	if err != nil {
		t.Fatal(err)
	}
	return bson.Raw(doc).Lookup("v")
}

func TestCompareValues(t *testing.T) {
	day := time.Date(2025, 7, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		a, b any
		want int
	}{
		{"numbers across types", int32(2), 2.5, -1},
		{"equal numbers", int64(2), 2.0, 0},
		{"dates", bson.NewDateTimeFromTime(day.Add(time.Hour)), bson.NewDateTimeFromTime(day), 1},
		{"timestamps with zones compare as instants", "2025-07-01T10:40:55-07:00", "2025-07-02T04:00:12Z", -1},
		{"zone offset makes the lexically smaller one later", "2025-07-01T10:00:00-07:00", "2025-07-01T12:00:00Z", 1},
		{"plain strings", "b", "a", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := compareValues(rawValue(t, tt.a), rawValue(t, tt.b), true, true); got != tt.want {
				t.Fatalf("compare(%v, %v) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
	if compareValues(bson.RawValue{}, rawValue(t, "x"), false, true) != -1 {
		t.Fatal("a missing value must sort lowest")
	}
}

func TestProjection(t *testing.T) {
	o := Options{GroupBy: []string{"subject.subject_id", "subject"}, FilterBy: []string{"external_links.Code Ocean.0"}, FilterLatest: "created"}
	got := o.projection()
	var keys []string
	for _, e := range got {
		keys = append(keys, e.Key)
	}
	want := []string{"_id", "created", "external_links.Code Ocean", "location", "name", "subject"}
	if len(keys) != len(want) {
		t.Fatalf("projection %v, want %v", keys, want)
	}
	for i := range want {
		if keys[i] != want[i] {
			t.Fatalf("projection %v, want %v", keys, want)
		}
	}
}
