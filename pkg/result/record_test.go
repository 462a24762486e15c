package result

import (
	"encoding/json"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
)

func TestRecordDecodeKeepsNumbers(t *testing.T) {
	m := identity.NewMetadata(identity.Run{Hash: "h", Code: identity.NewCode(identity.CodeInfo{URL: "u"}, map[string]any{"w": 10, "c": 0.25}, nil)})
	b, _ := json.Marshal(m)
	r, err := ParseRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	p := r.Process().Code.Parameters
	if r.ID != "h" || p["w"] != json.Number("10") || p["c"] != json.Number("0.25") {
		t.Fatalf("id %q params %#v", r.ID, p)
	}
}

// The record the wrapper writes reads back as the same Record through DocDB's encoding.
func TestDocumentRoundTrip(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	meta := identity.NewMetadata(identity.Run{Hash: "h", Location: "s3://b/h", Start: start, End: start.Add(90 * time.Second),
		Code: identity.NewCode(identity.CodeInfo{URL: "u"}, map[string]any{"w": 10}, []string{"s3://in/a"})})
	doc, err := Document("h", meta)
	if err != nil {
		t.Fatal(err)
	}
	if doc[0].Key != "_id" || doc[0].Value != "h" {
		t.Fatalf("first field %v, want _id = h", doc[0])
	}
	raw, err := bson.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	r, err := DecodeRecord(raw)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "h" || r.Location != "s3://b/h" || r.Duration() != 90*time.Second || r.Process().Code.Parameters["w"] != json.Number("10") {
		t.Fatalf("decoded %+v", r)
	}
	if in := r.Inputs(); len(in) != 1 || in[0] != "s3://in/a" {
		t.Fatalf("inputs %v", in)
	}
}
