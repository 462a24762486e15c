package docdb_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/devstacktest"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/docdb"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

func TestMain(m *testing.M) { os.Exit(devstacktest.Main(m)) }

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mongodb://user:secret@host:27017/db?tls=true", "mongodb://user:xxxxx@host:27017/db?tls=true"},
		{"mongodb://host:27017/", "mongodb://host:27017/"},
		{"mongodb://user@host/", "mongodb://user@host/"},
	}
	for _, tt := range tests {
		if got := docdb.Redact(tt.in); got != tt.want || strings.Contains(got, "secret") {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestConnectErrors: bad configuration is a usage error; a server that cannot be reached
// is transient (exit 75) and says why in plain words (the closed port's "connection
// refused", not the driver's topology dump), the driver's error still reachable with
// errors.Is and errors.As.
func TestConnectErrors(t *testing.T) {
	ctx := context.Background()
	closed := closedPort(t)
	tests := []struct {
		name      string
		opts      docdb.Options
		usage     bool
		transient bool
		want      string // the end of the message
	}{
		{"no URI", docdb.Options{}, true, false, "no connection string given (set --docdb-uri or DOCDB_URI)"},
		{"not a mongo URI", docdb.Options{URI: "http://x"}, true, false, "must start with mongodb:// or mongodb+srv://"},
		{"missing CA file", docdb.Options{URI: "mongodb://127.0.0.1:1/", TLSCAFile: "/nonexistent.pem"}, true, false, "no such file or directory"},
		{"unreachable", docdb.Options{URI: "mongodb://u:pw@" + closed + "/", ServerSelectionTimeout: 200 * time.Millisecond, Backoff: 10 * time.Millisecond}, false, true,
			"DocDB unreachable after 3 attempts (is it running, and are DOCDB_URI / DOCDB_HOST right?): " + closed + ": connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := docdb.Connect(ctx, tt.opts)
			if err == nil || fault.IsUsage(err) != tt.usage || fault.IsTransient(err) != tt.transient {
				t.Fatalf("error %v: want usage=%v transient=%v", err, tt.usage, tt.transient)
			}
			if strings.Contains(err.Error(), ":pw@") {
				t.Fatalf("password in error: %v", err)
			}
			if !strings.HasSuffix(err.Error(), tt.want) || strings.Contains(err.Error(), "topology") {
				t.Fatalf("error %q\nwant it to end in %q, without the driver's topology", err, tt.want)
			}
			if !tt.transient {
				return
			}
			var sse topology.ServerSelectionError
			if fault.ExitCode(err) != fault.ExitTransient || !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &sse) {
				t.Fatalf("error %v: want exit %d, the driver's ServerSelectionError and its deadline underneath", err, fault.ExitTransient)
			}
		})
	}
}

// closedPort returns "127.0.0.1:port" where nothing listens: a port just given up.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

type fixture struct {
	client *docdb.Client
	coll   *docdb.Collection
	finds  *atomic.Int64
}

func newFixture(t *testing.T) fixture {
	env := devstacktest.Get(t)
	db := env.NewDatabase(t)
	finds := &atomic.Int64{}
	mon := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if e.CommandName == "find" && e.DatabaseName == db {
			finds.Add(1)
		}
	}}
	c, err := docdb.Connect(context.Background(), docdb.Options{URI: env.DocDBURI, Monitor: mon})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return fixture{client: c, coll: c.Collection(db, "records"), finds: finds}
}

func TestFindExistingUpsert(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		id := fmt.Sprintf("id%d", i)
		if err := f.coll.Upsert(ctx, id, bson.D{{Key: "_id", Value: id}, {Key: "n", Value: i}}); err != nil {
			t.Fatal(err)
		}
	}
	// Upsert overwrites the fields it is given.
	if err := f.coll.Upsert(ctx, "id0", bson.D{{Key: "_id", Value: "id0"}, {Key: "n", Value: 100}}); err != nil {
		t.Fatal(err)
	}
	var ns []int32
	err := f.coll.Find(ctx, bson.D{}, docdb.FindOptions{Sort: bson.D{{Key: "_id", Value: 1}}, Projection: bson.D{{Key: "n", Value: 1}}, BatchSize: 2}, func(doc bson.Raw) error {
		ns = append(ns, doc.Lookup("n").Int32())
		return nil
	})
	if err != nil || fmt.Sprint(ns) != "[100 1 2 3 4]" {
		t.Fatalf("Find = %v, %v", ns, err)
	}
	stop := fmt.Errorf("stop")
	if err := f.coll.Find(ctx, bson.D{}, docdb.FindOptions{}, func(bson.Raw) error { return stop }); err != stop {
		t.Fatalf("Find did not return fn's error unchanged: %v", err)
	}
}

// TestExistingBothWays: Existing gives the same answer with one $in (MongoDB,
// DocumentDB) and one id at a time (FerretDB, which scans for $in), sends the finds each
// way takes, and picks the second on the devstack's FerretDB by itself.
func TestExistingBothWays(t *testing.T) {
	tests := []struct {
		name               string
		ferret             *bool // nil: ask the server
		wantFinds, wantAgn int64
	}{
		// One find for the ids and, since one is missing, one (once per handle) reading the
		// records of the Python wrapper (upstreamIndex); a second lookup sends one find.
		{"one $in", ptr(false), 2, 1},
		// One find per id, and the upstream read; then one per id.
		{"one id at a time", ptr(true), 5, 2},
		{"the devstack's FerretDB, found out", nil, 5, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			for i := 0; i < 5; i++ {
				id := fmt.Sprintf("id%d", i)
				if err := f.coll.Upsert(ctx, id, bson.D{{Key: "_id", Value: id}, {Key: "n", Value: i}}); err != nil {
					t.Fatal(err)
				}
			}
			if tt.ferret != nil {
				docdb.SetFerretDB(f.client, *tt.ferret)
			}
			f.finds.Store(0)
			got, err := f.coll.Existing(ctx, []string{"id1", "id3", "nope", "id4"})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 3 || !got["id1"] || !got["id3"] || !got["id4"] || got["nope"] {
				t.Fatalf("Existing = %v", got)
			}
			if n := f.finds.Load(); n != tt.wantFinds {
				t.Fatalf("Existing sent %d find commands, want %d", n, tt.wantFinds)
			}
			f.finds.Store(0)
			if _, err := f.coll.Existing(ctx, []string{"id1", "nope"}); err != nil {
				t.Fatal(err)
			}
			if n := f.finds.Load(); n != tt.wantAgn {
				t.Fatalf("a second Existing sent %d find commands, want %d", n, tt.wantAgn)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
