package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestIDLookupsUseAnIndex: FerretDB alone (no versitygw), a new collection filled with
// records; the keeper indexes its table, so the query FerretDB pushes down for {_id: x}
// is an index search, not a scan; FerretDB's own index list is unchanged; a dropped and
// re-created database is indexed again; and lookups still answer right.
func TestIDLookupsUseAnIndex(t *testing.T) {
	if testing.Short() {
		t.Skip("starts FerretDB")
	}
	dir := t.TempDir()
	st := &stack{log: zerolog.Nop()}
	if err := st.startFerret(stackConfig{dataDir: dir}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.stop(); err != nil {
			t.Error(err)
		}
	})
	ctx := t.Context()
	file := filepath.Join(dir, "ferretdb", "idx.sqlite")

	for round := range 2 { // the second round: after the database was dropped
		coll := st.mongo.Database("idx").Collection("records")
		var docs []any
		for i := range 200 {
			docs = append(docs, bson.D{{Key: "_id", Value: fmt.Sprintf("r%d-%03d", round, i)}, {Key: "n", Value: i}})
		}
		if _, err := coll.InsertMany(ctx, docs); err != nil {
			t.Fatal(err)
		}
		table := waitIndexed(t, file)
		plan := queryPlan(t, file, fmt.Sprintf(`SELECT _ferretdb_sjson FROM %s WHERE _ferretdb_sjson->'$._id' = ?`, quoteIdent(table)))
		if !strings.Contains(plan, "USING INDEX "+table+idIndexSuffix) {
			t.Errorf("round %d: the pushed-down _id lookup is %q, want a search using %s", round, plan, table+idIndexSuffix)
		}
		var got bson.M
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: fmt.Sprintf("r%d-123", round)}}).Decode(&got); err != nil || got["n"] != int32(123) {
			t.Errorf("round %d: find by _id = %v, %v", round, got, err)
		}
		cur, err := coll.Indexes().List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var indexes []bson.M
		if err := cur.All(ctx, &indexes); err != nil {
			t.Fatal(err)
		}
		if len(indexes) != 1 || indexes[0]["name"] != "_id_" {
			t.Errorf("round %d: listIndexes = %v, want only FerretDB's _id_", round, indexes)
		}
		if err := st.mongo.Database("idx").Drop(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// waitIndexed waits until the one collection table of the database file has the keeper's
// index, and returns the table's name.
func waitIndexed(t *testing.T, file string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		db, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		var table string
		err = db.QueryRowContext(context.Background(), `SELECT tbl_name FROM sqlite_master WHERE type = 'index' AND name LIKE ?`, "%"+idIndexSuffix).Scan(&table)
		db.Close()
		if err == nil {
			return table
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s index in %s after 10s: %v", idIndexSuffix, file, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// queryPlan returns SQLite's EXPLAIN QUERY PLAN of q (with one argument) on file.
func queryPlan(t *testing.T, file, q string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+q, `"x"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "; ")
}
