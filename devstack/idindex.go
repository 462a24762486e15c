package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"
	_ "modernc.org/sqlite" // the driver FerretDB's SQLite backend registers and uses
)

// idIndexSuffix names the index idIndexer adds to a table: <table>_aind_id.
const idIndexSuffix = "_aind_id"

// idIndexInterval is how often idIndexer looks for new tables. A lookup on a table that has
// no index yet only scans it, as FerretDB does without the keeper; a table is new, and so
// small, when it is created.
const idIndexInterval = 250 * time.Millisecond

// idIndexer makes FerretDB v1's lookups by _id use an index, as they do on DocDB.
//
// FerretDB v1.24's SQLite backend stores each collection as a table of one JSON column,
// _ferretdb_sjson, and creates the _id index on the expression _ferretdb_sjson->"_id"
// (internal/backends/sqlite/metadata/registry.go). But the query it pushes down for a filter
// {_id: <string or ObjectId>} compares _ferretdb_sjson->'$._id' (metadata.IDColumn,
// internal/backends/sqlite/collection.go): another expression, so SQLite's planner never
// uses that index and every find, update or delete by _id scans the whole table (EXPLAIN
// QUERY PLAN says "SCAN"). A wrapper's record and claim lookups then cost O(records), and a
// benchmark on the devstack measures that instead of the tools.
//
// The keeper adds the index that matches the pushed-down expression to every collection
// table of every database file under dir: "CREATE INDEX <table>_aind_id ON <table>
// (_ferretdb_sjson->'$._id')". FerretDB does not know of it (its catalogue is its own
// _ferretdb_collections table), so listIndexes, dropIndexes and the documents are unchanged;
// SQLite drops it with its table and keeps it on a rename. It polls each file's
// schema_version and only looks for tables when that changed; it holds no transaction
// between polls, and FerretDB's writers wait for its short index builds (busy_timeout).
type idIndexer struct {
	dir string
	log zerolog.Logger
	dbs map[string]*indexedDB
}

// indexedDB is one open database file and the schema version last indexed.
type indexedDB struct {
	db      *sql.DB
	info    os.FileInfo // to notice a file dropped and created again
	version int64
}

func newIDIndexer(dir string, log zerolog.Logger) *idIndexer {
	return &idIndexer{dir: dir, log: log, dbs: map[string]*indexedDB{}}
}

// run keeps the indexes until ctx ends, then closes its connections.
func (x *idIndexer) run(ctx context.Context) {
	defer x.close()
	tick := time.NewTicker(idIndexInterval)
	defer tick.Stop()
	for {
		if err := x.pass(ctx); err != nil && ctx.Err() == nil {
			x.log.Warn().Err(err).Msg("indexing FerretDB's _id lookups")
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// pass indexes every table of every database file that lacks the index.
func (x *idIndexer) pass(ctx context.Context) error {
	files, err := filepath.Glob(filepath.Join(x.dir, "*.sqlite"))
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var errs []error
	for _, f := range files {
		seen[f] = true
		if err := x.indexFile(ctx, f); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", filepath.Base(f), err))
		}
	}
	for f, d := range x.dbs {
		if !seen[f] { // the database was dropped
			d.db.Close()
			delete(x.dbs, f)
		}
	}
	return errors.Join(errs...)
}

func (x *idIndexer) indexFile(ctx context.Context, path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return nil // dropped since the glob
	}
	d := x.dbs[path]
	if d != nil && !os.SameFile(d.info, info) {
		d.db.Close()
		d = nil
	}
	if d == nil {
		// The pragmas FerretDB's own connections use (its pool/uri.go): WAL and a 10 s
		// busy timeout, so neither side fails on the other's short write lock.
		db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path)+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)")
		if err != nil {
			return err
		}
		db.SetMaxOpenConns(1)
		d = &indexedDB{db: db, info: info, version: -1}
		x.dbs[path] = d
	}
	var version int64
	if err := d.db.QueryRowContext(ctx, "PRAGMA schema_version").Scan(&version); err != nil {
		return err
	}
	if version == d.version {
		return nil
	}
	tables, err := missingIDIndex(ctx, d.db)
	if err != nil {
		return err
	}
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (_ferretdb_sjson->'$._id')`, quoteIdent(t+idIndexSuffix), quoteIdent(t))
		if _, err := d.db.ExecContext(ctx, q); err != nil && !strings.Contains(err.Error(), "no such table") {
			return fmt.Errorf("indexing %s: %w", t, err)
		}
		x.log.Debug().Str("table", t).Str("file", filepath.Base(path)).Msg("indexed _id lookups")
	}
	// Our own CREATE INDEX moved the version on: read it after, so the next pass is idle.
	return d.db.QueryRowContext(ctx, "PRAGMA schema_version").Scan(&d.version)
}

// missingIDIndex returns the collection tables (FerretDB's tables all have the column
// _ferretdb_sjson; its catalogue tables start with _ferretdb_) that lack the index.
func missingIDIndex(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT t.name FROM sqlite_master t
		WHERE t.type = 'table' AND t.name NOT LIKE '\_ferretdb\_%' ESCAPE '\'
		AND t.sql LIKE '%_ferretdb_sjson%'
		AND NOT EXISTS (SELECT 1 FROM sqlite_master i WHERE i.type = 'index' AND i.name = t.name || ?)`, idIndexSuffix)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		tables = append(tables, t)
	}
	return tables, rows.Err()
}

func (x *idIndexer) close() {
	for f, d := range x.dbs {
		d.db.Close()
		delete(x.dbs, f)
	}
}

// quoteIdent quotes an SQLite identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
