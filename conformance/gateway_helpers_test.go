package conformance

import (
	"context"
	"encoding/json"
	"reflect"
	"sort"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/devstacktest"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/docdb"
)

// gatewayWriteRecords are the records both clients write, as JSON (what MetadataDbClient
// sends: plain JSON types, a null, nesting).
var gatewayWriteRecords = map[string]string{
	"r1":       `{"_id": "r1", "name": "one", "n": 1, "nested": {"a": [1, 2], "b": "x"}, "none": null}`,
	"r2":       `{"_id": "r2", "name": "two", "n": 2}`,
	"r1 again": `{"_id": "r1", "name": "one again", "n": 11}`,
	"r3":       `{"_id": "r3", "name": "three", "tags": ["a", "b"]}`,
	"r4":       `{"_id": "r4", "name": "four", "when": "2025-01-02T03:04:05"}`,
	"r5":       `{"_id": "r5", "name": "five"}`,
	"r6":       `{"_id": "r6", "name": "six"}`,
	"r7":       `{"_id": "r7", "name": "seven", "deep": {"x": {"y": [{"z": 1}]}}}`,
	"r1 extra": `{"_id": "r1", "extra": true}`,
}

// gatewayWrites returns the write operations for gateway_ops.py and the function doing
// the same through pkg/docdb's gateway client, returning its replies in the same order
// (each the reply body's fields the Go client reads).
func gatewayWrites() ([]any, func(t *testing.T, c *docdb.GatewayCollection) []map[string]any) {
	// Raw JSON, so the records reach MetadataDbClient with their fields in this order.
	rec := func(name string) json.RawMessage { return json.RawMessage(gatewayWriteRecords[name]) }
	list := []string{"r3", "r4", "r5", "r6", "r7", "r1 extra"}
	var records []any
	for _, n := range list {
		records = append(records, rec(n))
	}
	ops := []any{
		map[string]any{"op": "insert", "record": rec("r1")},
		map[string]any{"op": "upsert", "record": rec("r2")},
		map[string]any{"op": "upsert", "record": rec("r1 again")},
		map[string]any{"op": "upsert_list", "records": records},
		map[string]any{"op": "delete_one", "id": "r5"},
		map[string]any{"op": "delete_many", "ids": []string{"r6", "absent"}},
	}
	doc := func(t *testing.T, name string) bson.D {
		var d bson.D
		if err := bson.UnmarshalExtJSON([]byte(gatewayWriteRecords[name]), false, &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	run := func(t *testing.T, c *docdb.GatewayCollection) []map[string]any {
		ctx := context.Background()
		var out []map[string]any
		if err := c.InsertOne(ctx, doc(t, "r1")); err != nil {
			t.Fatalf("Go InsertOne: %v", err)
		}
		out = append(out, nil)
		for _, n := range []string{"r2", "r1 again"} {
			d := doc(t, n)
			res, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: d[0].Value}}, bson.D{{Key: "$set", Value: d}}, true)
			if err != nil {
				t.Fatalf("Go UpdateOne (upsert %s): %v", n, err)
			}
			out = append(out, map[string]any{"matched_count": res.MatchedCount, "modified_count": res.ModifiedCount, "upserted_id": res.UpsertedID})
		}
		var bulk []json.RawMessage
		for _, n := range list {
			d := doc(t, n)
			op, err := docdb.BulkUpsert(d[0].Value.(string), d)
			if err != nil {
				t.Fatal(err)
			}
			bulk = append(bulk, op)
		}
		res, err := c.BulkWrite(ctx, bulk)
		if err != nil {
			t.Fatalf("Go BulkWrite: %v", err)
		}
		out = append(out, map[string]any{"matched_count": res.MatchedCount, "modified_count": res.ModifiedCount, "upserted_count": res.UpsertedCount,
			"inserted_count": res.InsertedCount, "deleted_count": res.DeletedCount})
		n, err := c.Delete(ctx, bson.D{{Key: "_id", Value: "r5"}}, false)
		if err != nil {
			t.Fatalf("Go Delete one: %v", err)
		}
		out = append(out, map[string]any{"deleted_count": n})
		n, err = c.Delete(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{"r6", "absent"}}}}}, true)
		if err != nil {
			t.Fatalf("Go Delete many: %v", err)
		}
		out = append(out, map[string]any{"deleted_count": n})
		return out
	}
	return ops, run
}

// compareReplies checks every MetadataDbClient write got a 2xx and that the counts the
// Go client read from its replies are the ones MetadataDbClient got for the same op.
func compareReplies(t *testing.T, py []json.RawMessage, goReplies []map[string]any) {
	t.Helper()
	if len(py) != len(goReplies) {
		t.Fatalf("MetadataDbClient made %d writes, Go %d", len(py), len(goReplies))
	}
	type reply struct {
		Status int            `json:"status"`
		Body   map[string]any `json:"body"`
	}
	for i, raw := range py {
		var rs []reply
		if raw[0] == '[' { // upsert_list: one response per chunk, summed
			if err := json.Unmarshal(raw, &rs); err != nil {
				t.Fatal(err)
			}
		} else {
			var r reply
			if err := json.Unmarshal(raw, &r); err != nil {
				t.Fatal(err)
			}
			rs = []reply{r}
		}
		sum := map[string]any{}
		for _, r := range rs {
			if r.Status/100 != 2 {
				t.Errorf("MetadataDbClient write %d: status %d %v", i, r.Status, r.Body)
				continue
			}
			for k, v := range r.Body {
				if f, ok := v.(float64); ok {
					prev, _ := sum[k].(float64)
					sum[k] = prev + f
				} else {
					sum[k] = v
				}
			}
		}
		for k, gv := range goReplies[i] {
			var want any = sum[k]
			var got any = gv
			if n, ok := gv.(int64); ok {
				got = float64(n)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("write %d: %s: Go client read %v, MetadataDbClient got %v (reply %s)", i, k, got, want, raw)
			}
		}
	}
}

// mongoFind reads coll through the Mongo driver (the truth), sorted by _id.
func mongoFind(t *testing.T, env *devstacktest.Env, db, coll string, filter, projection any, limit int64) []string {
	t.Helper()
	o := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(limit)
	if projection != nil {
		o.SetProjection(projection)
	}
	cur, err := env.Mongo(t).Database(db).Collection(coll).Find(context.Background(), filter, o)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for cur.Next(context.Background()) {
		out = append(out, extJSON(t, cur.Current))
	}
	if err := cur.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func mongoCount(t *testing.T, env *devstacktest.Env, db, coll string, filter any) (int64, error) {
	t.Helper()
	return env.Mongo(t).Database(db).Collection(coll).CountDocuments(context.Background(), filter)
}

func mongoAggregate(t *testing.T, env *devstacktest.Env, db, coll string, pipeline []any) []string {
	t.Helper()
	cur, err := env.Mongo(t).Database(db).Collection(coll).Aggregate(context.Background(), pipeline)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for cur.Next(context.Background()) {
		out = append(out, extJSON(t, cur.Current))
	}
	return out
}

// extJSON is a document as relaxed Extended JSON.
func extJSON(t *testing.T, d bson.Raw) string {
	t.Helper()
	b, err := bson.MarshalExtJSON(d, false, false)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func raws(in []json.RawMessage) []string {
	out := make([]string, len(in))
	for i, r := range in {
		out[i] = string(r)
	}
	return out
}

// canon re-encodes each JSON document through BSON (so number widths and spacing agree,
// field order kept) and sorts them.
func canon(t *testing.T, docs []string) []string {
	t.Helper()
	out := make([]string, len(docs))
	for i, s := range docs {
		var d bson.D
		if err := bson.UnmarshalExtJSON([]byte(s), false, &d); err != nil {
			t.Fatalf("document %.200s: %v", s, err)
		}
		b, err := bson.MarshalExtJSON(d, false, false)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = string(b)
	}
	sort.Strings(out)
	return out
}

// normJSON parses each document as plain JSON, order of the list kept.
func normJSON(t *testing.T, docs []string) []any {
	t.Helper()
	out := make([]any, len(docs))
	for i, s := range docs {
		if err := json.Unmarshal([]byte(s), &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// same fails t when got and want (sorted canonical documents) differ, naming the first
// few documents in only one of them.
func same(t *testing.T, what string, got, want []string) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	onlyGot, onlyWant := minus(got, want), minus(want, got)
	t.Errorf("%s: %d documents, want %d; %d only here, %d missing; first differences:\n got %s\nwant %s",
		what, len(got), len(want), len(onlyGot), len(onlyWant), onlyGot[:min(3, len(onlyGot))], onlyWant[:min(3, len(onlyWant))])
}
