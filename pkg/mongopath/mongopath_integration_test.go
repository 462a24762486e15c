package mongopath

import (
	"context"
	"os"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/devstacktest"
)

func TestMain(m *testing.M) { os.Exit(devstacktest.Main(m)) }

// TestPathResolutionAgreesWithTheDatabase runs the path table through the devstack's
// database: each document's $group key for the path must be what lookup resolves, and
// find's {path: {$ne: null}} must keep exactly the documents isNull keeps (paths with a
// numeric component aside: find indexes lists there, aggregation paths do not).
func TestPathResolutionAgreesWithTheDatabase(t *testing.T) {
	env := devstacktest.Get(t)
	coll := env.Mongo(t).Database(env.NewDatabase(t)).Collection("paths")
	ctx := context.Background()
	var docs []any
	for _, d := range pathDocs {
		if !goOnly[d[0].Value.(string)] {
			docs = append(docs, d)
		}
	}
	if _, err := coll.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	for _, c := range pathCases {
		if goOnly[c.doc] {
			continue
		}
		t.Run(c.doc+"/"+c.path, func(t *testing.T) {
			cur, err := coll.Aggregate(ctx, mongo.Pipeline{
				{{Key: "$match", Value: bson.D{{Key: "_id", Value: c.doc}}}},
				{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$" + c.path}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
			})
			if err != nil {
				t.Fatal(err)
			}
			var out []bson.Raw
			if err := cur.All(ctx, &out); err != nil || len(out) != 1 {
				t.Fatalf("$group gave %v (%v), want one group", out, err)
			}
			dbKey := keyJSON(t, out[0].Lookup("_id"), true)
			doc := pathDoc(t, c.doc)
			v, ok := lookup(doc, c.path)
			if got := keyJSON(t, v, ok); got != dbKey || got != c.key {
				t.Errorf("group key: database %s, Go %s, table %s", dbKey, got, c.key)
			}
			if numericPath(c.path) {
				return
			}
			n, err := coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: c.doc}, {Key: c.path, Value: bson.D{{Key: "$ne", Value: nil}}}})
			if err != nil {
				t.Fatal(err)
			}
			if dbKept, kept := n == 1, !isNull(doc, c.path); dbKept != kept || kept != c.kept {
				t.Errorf("kept by {$ne: null}: database %v, Go %v, table %v", dbKept, kept, c.kept)
			}
		})
	}
}
