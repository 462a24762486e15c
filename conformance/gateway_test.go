package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/devstacktest"
	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/upstreamtest"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/docdb"
)

// gatewayRecords is how many records the paged reads go over: more than 1,000, and not a
// multiple of the stand-in's page cap (100), so the last page is short.
const gatewayRecords = 1234

// TestGatewayMatchesMetadataDbClient runs aind-data-access-api's MetadataDbClient
// (testdata/upstream/gateway_ops.py) and pkg/docdb's gateway client against the devstack
// gateway on the same data: paged find over 1,234 records (all, filtered with a
// projection, sorted with a limit), the collection's own URL, count, aggregate, a find
// over documents whose pages exceed the payload limit, and the signed writes (insert,
// upsert, the chunked bulk upsert, deletes), each side into its own collection. Every read must equal what the
// Mongo driver reads from the database, on both sides; both write collections must end
// equal, and the replies must agree.
func TestGatewayMatchesMetadataDbClient(t *testing.T) {
	upstreamtest.Venv(t)
	env := devstacktest.Get(t)
	db := env.NewDatabase(t)
	ctx := context.Background()

	docs := make([]any, gatewayRecords)
	for i := range docs {
		d := bson.D{{Key: "_id", Value: fmt.Sprintf("asset-%05d", i)}, {Key: "i", Value: i},
			{Key: "subject", Value: bson.D{{Key: "subject_id", Value: fmt.Sprint(600000 + i%7)}}},
			{Key: "tags", Value: bson.A{"t" + fmt.Sprint(i%3), "all"}}, {Key: "note", Value: nil}}
		if i%5 == 0 {
			d = append(d, bson.D{{Key: "modality", Value: "ecephys"}}...)
		}
		docs[i] = d
	}
	env.InsertDocs(t, db, "assets", docs)
	big := make([]any, 30) // 30 x 60 KiB: a page of 100 is over the 1 MiB reply limit
	for i := range big {
		big[i] = bson.D{{Key: "_id", Value: fmt.Sprintf("big-%02d", i)}, {Key: "i", Value: i}, {Key: "blob", Value: strings.Repeat("x", 60<<10)}}
	}
	env.InsertDocs(t, db, "big", big)

	filter := map[string]any{"subject.subject_id": map[string]any{"$in": []string{"600001", "600003"}}}
	projection := map[string]any{"subject": 1, "i": 1}
	pipeline := []any{
		map[string]any{"$match": map[string]any{"modality": "ecephys"}},
		map[string]any{"$group": map[string]any{"_id": "$subject.subject_id", "n": map[string]any{"$sum": 1}}},
		map[string]any{"$sort": map[string]any{"_id": 1}},
	}
	const limit = 1050
	ops, goWrites := gatewayWrites()
	cfg, _ := json.Marshal(map[string]any{"database": db,
		"read":    map[string]any{"collection": "assets", "filter": filter, "projection": projection, "limit": limit, "pipeline": pipeline},
		"payload": map[string]any{"collection": "big"},
		"write":   map[string]any{"collection": "written_py", "ops": ops}})
	cfgFile := filepath.Join(t.TempDir(), "gateway.json")
	write(t, cfgFile, string(cfg))
	res := upstreamtest.Run(t, "", map[string]string{"DOCDB_HOST": strings.TrimPrefix(env.DocDBHost, "http://"),
		"DOCDB_VERSION": env.DocDBVersion, "AWS_DEFAULT_REGION": env.Region,
		"AWS_ACCESS_KEY_ID": env.AccessKey, "AWS_SECRET_ACCESS_KEY": env.SecretKey}, "gateway_ops.py", cfgFile)
	if res.Code != 0 {
		t.Fatalf("gateway_ops.py exit %d:\n%s", res.Code, res.Stderr)
	}
	var py struct {
		Read struct {
			All           []json.RawMessage `json:"all"`
			AllRequests   int               `json:"all_requests"`
			Filtered      []json.RawMessage `json:"filtered"`
			Limited       []json.RawMessage `json:"limited"`
			CountAll      map[string]int64  `json:"count_all"`
			CountFiltered map[string]int64  `json:"count_filtered"`
			Aggregate     []json.RawMessage `json:"aggregate"`
			GetRecords    []json.RawMessage `json:"get_records"`
		} `json:"read"`
		Payload    map[string]any    `json:"payload"`
		Write      []json.RawMessage `json:"write"`
		WriteError map[string]any    `json:"write_error"`
	}
	if err := json.Unmarshal(res.Stdout, &py); err != nil {
		t.Fatalf("gateway_ops.py output: %v\n%.2000s", err, res.Stdout)
	}

	gw, err := docdb.OpenGateway(ctx, env.DocDBConfig(devstacktest.BackendGateway))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close(ctx) })
	assets := gw.GatewayCollection(db, "assets")
	truth := func(coll string, f, p any, limit int64) []string {
		t.Helper()
		return canon(t, mongoFind(t, env, db, coll, f, p, limit))
	}
	goFind := func(coll string, f, p any, limit int) []string {
		t.Helper()
		var out []string
		err := gw.GatewayCollection(db, coll).Find(ctx, f, docdb.FindOptions{Projection: p, Sort: bson.D{{Key: "_id", Value: 1}}}, func(d bson.Raw) error {
			if limit == 0 || len(out) < limit {
				out = append(out, extJSON(t, d))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Go gateway client find in %s: %v", coll, err)
		}
		return canon(t, out)
	}

	t.Run("find pages over every record", func(t *testing.T) {
		want := truth("assets", bson.D{}, nil, 0)
		if len(want) != gatewayRecords {
			t.Fatalf("the database holds %d records, want %d", len(want), gatewayRecords)
		}
		same(t, "MetadataDbClient.retrieve_docdb_records()", canon(t, raws(py.Read.All)), want)
		same(t, "Go Find", goFind("assets", nil, nil, 0), want)
		if py.Read.AllRequests < gatewayRecords/100 {
			t.Errorf("MetadataDbClient read %d records in %d find requests: the stand-in did not page", len(py.Read.All), py.Read.AllRequests)
		}
	})
	t.Run("find with filter and projection", func(t *testing.T) {
		want := truth("assets", filter, projection, 0)
		same(t, "MetadataDbClient filtered", canon(t, raws(py.Read.Filtered)), want)
		same(t, "Go Find filtered", goFind("assets", filter, projection, 0), want)
	})
	t.Run("find with sort and limit", func(t *testing.T) {
		want := truth("assets", filter, nil, limit)
		same(t, "MetadataDbClient limit", canon(t, raws(py.Read.Limited)), want)
		same(t, "Go Find limit", goFind("assets", filter, nil, limit), want)
	})
	t.Run("the collection's own URL", func(t *testing.T) {
		same(t, "MetadataDbClient._get_records (no page cap)", canon(t, raws(py.Read.GetRecords)), truth("assets", filter, nil, 0))
		if st := py.Payload["get_records_status"]; st != float64(413) {
			t.Errorf("MetadataDbClient._get_records of 1.8 MiB: status %v, want 413 (the client documents it)", st)
		}
	})
	t.Run("count", func(t *testing.T) {
		all, err := mongoCount(t, env, db, "assets", bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		filtered, _ := mongoCount(t, env, db, "assets", filter)
		for name, got := range map[string]map[string]int64{"unfiltered": py.Read.CountAll, "filtered": py.Read.CountFiltered} {
			want := filtered
			if name == "unfiltered" {
				want = all
			}
			if got["total_record_count"] != all || got["filtered_record_count"] != want {
				t.Errorf("MetadataDbClient _count_records (%s) = %v, want total %d, filtered %d", name, got, all, want)
			}
		}
		total, n, err := assets.Count(ctx, filter)
		if err != nil || total != all || n != filtered {
			t.Errorf("Go Count = %d, %d, %v; want %d, %d", total, n, err, all, filtered)
		}
	})
	t.Run("aggregate", func(t *testing.T) {
		want := mongoAggregate(t, env, db, "assets", pipeline)
		if got := raws(py.Read.Aggregate); !reflect.DeepEqual(normJSON(t, got), normJSON(t, want)) {
			t.Errorf("MetadataDbClient aggregate:\n got %s\nwant %s", got, want)
		}
		var got []string
		if err := assets.Aggregate(ctx, pipeline, func(d bson.Raw) error { got = append(got, extJSON(t, d)); return nil }); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normJSON(t, got), normJSON(t, want)) {
			t.Errorf("Go Aggregate:\n got %s\nwant %s", got, want)
		}
	})
	t.Run("find over pages beyond the payload limit", func(t *testing.T) {
		if py.Payload["error"] != nil {
			t.Fatalf("MetadataDbClient.retrieve_docdb_records over 30 x 60 KiB documents: %v (the real gateway's find returns fewer records when a page exceeds its payload limit)", py.Payload["error"])
		}
		ids, _ := py.Payload["ids"].([]any)
		if len(ids) != len(big) {
			t.Errorf("MetadataDbClient read %d of %d big documents", len(ids), len(big))
		}
		if got := goFind("big", nil, bson.D{{Key: "i", Value: 1}}, 0); len(got) != len(big) {
			t.Errorf("Go Find read %d of %d big documents", len(got), len(big))
		}
	})
	t.Run("signed writes", func(t *testing.T) {
		if py.WriteError != nil {
			t.Fatalf("MetadataDbClient write refused: %v", py.WriteError)
		}
		goReplies := goWrites(t, gw.GatewayCollection(db, "written_go"))
		compareReplies(t, py.Write, goReplies)
		want := truth("written_py", bson.D{}, nil, 0)
		same(t, "collection written by Go (vs by MetadataDbClient)", truth("written_go", bson.D{}, nil, 0), want)
		if len(want) != 5 {
			t.Errorf("MetadataDbClient's writes left %d records, want 5:\n%s", len(want), strings.Join(want, "\n"))
		}
	})
}
