package docdb_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/devstacktest"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/docdb"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
)

// TestConformance runs the record-store contract (docdb.Store) against both backends,
// always: the Mongo driver and the devstack's HTTP gateway (page cap 100, 1 MiB payload
// limit, SigV4-verified writes).
func TestConformance(t *testing.T) {
	env := devstacktest.Get(t)
	for _, backend := range []string{devstacktest.BackendMongo, devstacktest.BackendGateway} {
		t.Run(backend, func(t *testing.T) {
			b := env.OpenDocDBWith(t, env.DocDBConfig(backend))
			open := func(t *testing.T) docdb.Store { return b.Collection(env.NewDatabase(t), "records") }
			runConformance(t, open)
		})
	}
}

func runConformance(t *testing.T, open func(t *testing.T) docdb.Store) {
	ctx := context.Background()

	t.Run("find, existing, upsert", func(t *testing.T) {
		s := open(t)
		for i := 0; i < 5; i++ {
			id := fmt.Sprintf("id%d", i)
			if err := s.Upsert(ctx, id, bson.D{{Key: "_id", Value: id}, {Key: "n", Value: i}, {Key: "at", Value: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}}); err != nil {
				t.Fatal(err)
			}
		}
		// Upsert overwrites the fields it is given.
		if err := s.Upsert(ctx, "id0", bson.D{{Key: "_id", Value: "id0"}, {Key: "n", Value: 100}, {Key: "at", Value: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}}); err != nil {
			t.Fatal(err)
		}
		var ns []int32
		err := s.Find(ctx, bson.D{}, docdb.FindOptions{Sort: bson.D{{Key: "_id", Value: -1}}, Projection: bson.D{{Key: "n", Value: 1}}, BatchSize: 2}, func(doc bson.Raw) error {
			if doc.Lookup("at").Type != 0 {
				t.Errorf("projection ignored: %v", doc)
			}
			ns = append(ns, doc.Lookup("n").Int32())
			return nil
		})
		if err != nil || fmt.Sprint(ns) != "[4 3 2 1 100]" {
			t.Fatalf("Find = %v, %v", ns, err)
		}
		// Filters with typed values (a date) and the type of what comes back.
		var got []string
		err = s.Find(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}}}, docdb.FindOptions{}, func(doc bson.Raw) error {
			if doc.Lookup("at").Type != bson.TypeDateTime {
				t.Errorf("at came back as %v", doc.Lookup("at").Type)
			}
			got = append(got, doc.Lookup("_id").StringValue())
			return nil
		})
		if err != nil || len(got) != 4 {
			t.Fatalf("Find by date = %v, %v", got, err)
		}
		found, err := s.Existing(ctx, []string{"id1", "id3", "nope", "id4"})
		if err != nil || len(found) != 3 || !found["id1"] || !found["id3"] || !found["id4"] {
			t.Fatalf("Existing = %v, %v", found, err)
		}
		if found, err := s.Existing(ctx, nil); err != nil || len(found) != 0 {
			t.Fatalf("Existing(nil) = %v, %v", found, err)
		}
		stop := errors.New("stop")
		if err := s.Find(ctx, bson.D{}, docdb.FindOptions{}, func(bson.Raw) error { return stop }); err != stop {
			t.Fatalf("Find did not return fn's error unchanged: %v", err)
		}
	})

	t.Run("upsert sets the fields given and keeps the others", func(t *testing.T) {
		s := open(t)
		steps := []struct {
			doc  bson.D
			want string
		}{
			{bson.D{{Key: "a", Value: 1}, {Key: "b", Value: 2}}, `{"_id":"u","a":1,"b":2}`},
			{bson.D{{Key: "_id", Value: "u"}, {Key: "b", Value: 3}, {Key: "c", Value: 4}}, `{"_id":"u","a":1,"b":3,"c":4}`},
			{bson.D{{Key: "c", Value: bson.D{{Key: "x", Value: "y"}}}}, `{"_id":"u","a":1,"b":3,"c":{"x":"y"}}`},
			{bson.D{}, `{"_id":"u","a":1,"b":3,"c":{"x":"y"}}`},
		}
		for i, st := range steps {
			if err := s.Upsert(ctx, "u", st.doc); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if got := one(t, s, "u"); got != st.want {
				t.Fatalf("step %d: upsert of %v left %s, want %s", i, st.doc, got, st.want)
			}
		}
		if err := s.Upsert(ctx, "empty", bson.D{}); err != nil || one(t, s, "empty") != `{"_id":"empty"}` {
			t.Fatalf("upsert of an empty document: %v", err)
		}
		if err := s.Upsert(ctx, "u", bson.D{{Key: "_id", Value: "other"}}); !fault.IsUsage(err) {
			t.Fatalf("upsert with a different _id in the document: %v", err)
		}
	})

	t.Run("insert if absent never overwrites", func(t *testing.T) {
		s := open(t)
		first := bson.D{{Key: "_id", Value: "rec"}, {Key: "by", Value: "first"}, {Key: "n", Value: int64(1)}}
		tests := []struct {
			name string
			doc  bson.D
			want bool
		}{
			{"absent: inserted", first, true},
			{"the same document again (a retried write): reported as ours", first, true},
			{"a different document: refused", bson.D{{Key: "by", Value: "second"}, {Key: "n", Value: int64(1)}}, false},
			{"fewer fields: refused", bson.D{{Key: "by", Value: "first"}}, false},
		}
		for _, tt := range tests {
			ours, err := s.InsertIfAbsent(ctx, "rec", tt.doc)
			if err != nil || ours != tt.want {
				t.Fatalf("%s: InsertIfAbsent = %v, %v; want %v", tt.name, ours, err, tt.want)
			}
			if got := one(t, s, "rec"); got != `{"_id":"rec","by":"first","n":1}` {
				t.Fatalf("%s: stored %s", tt.name, got)
			}
		}
		// Racing writers of different documents: exactly one wins and its document stays.
		var wins atomic.Int64
		var winner atomic.Value
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ours, err := s.InsertIfAbsent(ctx, "raced", bson.D{{Key: "by", Value: fmt.Sprint(i)}})
				if err != nil {
					t.Error(err)
				}
				if ours {
					wins.Add(1)
					winner.Store(fmt.Sprint(i))
				}
			}()
		}
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("%d of 8 racing inserts won, want 1", n)
		}
		if got, want := one(t, s, "raced"), `{"_id":"raced","by":"`+winner.Load().(string)+`"}`; got != want {
			t.Fatalf("stored %s, want the winner's %s", got, want)
		}
	})

	t.Run("paging over more records than the page cap", func(t *testing.T) {
		s := open(t)
		const n = 250 // the devstack gateway's page cap is 100
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("r%04d", i)
			if err := s.Upsert(ctx, id, bson.D{{Key: "i", Value: i}}); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[string]bool{}
		prev := ""
		err := s.Find(ctx, bson.D{}, docdb.FindOptions{}, func(doc bson.Raw) error {
			id := doc.Lookup("_id").StringValue()
			if seen[id] || id <= prev {
				return fmt.Errorf("%s twice or out of order after %s", id, prev)
			}
			seen[id], prev = true, id
			return nil
		})
		if err != nil || len(seen) != n {
			t.Fatalf("Find saw %d of %d: %v", len(seen), n, err)
		}
		ids := make([]string, 0, n+10)
		for i := 0; i < n+10; i++ {
			ids = append(ids, fmt.Sprintf("r%04d", i))
		}
		if found, err := s.Existing(ctx, ids); err != nil || len(found) != n {
			t.Fatalf("Existing found %d of %d: %v", len(found), n, err)
		}
	})

	t.Run("claims", func(t *testing.T) {
		s := open(t)
		held, err := s.Claim(ctx, "job", "a", time.Minute)
		if err != nil || !held {
			t.Fatalf("first claim: %v %v", held, err)
		}
		if held, err := s.Claim(ctx, "job", "b", time.Minute); err != nil || held {
			t.Fatalf("second holder got a live claim: %v %v", held, err)
		}
		if err := s.Renew(ctx, "job", "a", time.Minute); err != nil {
			t.Fatalf("renew by holder: %v", err)
		}
		if err := s.Renew(ctx, "job", "b", time.Minute); !errors.Is(err, docdb.ErrClaimLost) || fault.IsTransient(err) {
			t.Fatalf("renew by a non-holder: %v", err)
		}
		if _, err := s.Claim(ctx, "short", "a", 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		time.Sleep(120 * time.Millisecond)
		if held, err := s.Claim(ctx, "short", "b", time.Minute); err != nil || !held {
			t.Fatalf("expired claim not taken over: %v %v", held, err)
		}
		if err := s.Renew(ctx, "short", "a", time.Minute); !errors.Is(err, docdb.ErrClaimLost) {
			t.Fatalf("old holder renewed a lost claim: %v", err)
		}
		if err := s.Release(ctx, "b", []string{"job"}); err != nil {
			t.Fatal(err)
		}
		if held, _ := s.Claim(ctx, "job", "c", time.Minute); held {
			t.Fatal("release by a non-holder freed the claim")
		}
		if err := s.Release(ctx, "a", []string{"job"}); err != nil {
			t.Fatal(err)
		}
		if held, err := s.Claim(ctx, "job", "c", time.Minute); err != nil || !held {
			t.Fatalf("claim after release: %v %v", held, err)
		}
		// Several at once: only the holder's go; no ids is no request and no error.
		for _, id := range []string{"m1", "m2", "m3"} {
			if held, err := s.Claim(ctx, id, "a", time.Minute); err != nil || !held {
				t.Fatalf("claim %s: %v %v", id, held, err)
			}
		}
		if held, err := s.Claim(ctx, "m4", "d", time.Minute); err != nil || !held {
			t.Fatalf("claim m4: %v %v", held, err)
		}
		if err := s.Release(ctx, "a", nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx, "a", []string{"m1", "m2", "m3", "m4"}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"m1", "m2", "m3"} {
			if held, err := s.Claim(ctx, id, "e", time.Minute); err != nil || !held {
				t.Fatalf("%s after releasing several: %v %v", id, held, err)
			}
		}
		if held, _ := s.Claim(ctx, "m4", "e", time.Minute); held {
			t.Fatal("releasing several freed another holder's claim")
		}
	})

	t.Run("racing claims have one winner", func(t *testing.T) {
		s := open(t)
		var wins atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				held, err := s.Claim(ctx, "race", fmt.Sprintf("h%d", i), time.Minute)
				if err != nil {
					t.Error(err)
				}
				if held {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("%d of 10 racing claimers won, want exactly 1", n)
		}
	})

	// A claim released between another claimer's refused insert and its read-back is
	// gone when the read-back looks: that is a free claim to take again, not an error
	// (CI once failed a racing wrapper with "mongo: no documents in result" here).
	t.Run("claims racing with releases never fail", func(t *testing.T) {
		s := open(t)
		var wg sync.WaitGroup
		var wins atomic.Int64
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				holder := fmt.Sprintf("h%d", i)
				for n := 0; n < 40; n++ {
					held, err := s.Claim(ctx, "churn", holder, time.Minute)
					if err != nil {
						t.Errorf("%s, claim %d: %v", holder, n, err)
						return
					}
					if !held {
						continue
					}
					wins.Add(1)
					if err := s.Release(ctx, holder, []string{"churn"}); err != nil {
						t.Errorf("%s, release %d: %v", holder, n, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if wins.Load() == 0 {
			t.Fatal("no claim was ever held")
		}
	})

	t.Run("a record of the Python wrapper is found by our identity, within the code's scope", func(t *testing.T) {
		params := map[string]any{"alpha": 2.5}
		inputs := []string{"s3://bucket/asset1"}
		code := func(url string) identity.Code {
			return identity.NewCode(identity.CodeInfo{URL: url, Name: "analysis", Version: "1.0"}, params, inputs)
		}
		ours, err := code("https://example.org/a").Hash()
		if err != nil {
			t.Fatal(err)
		}
		// The upstream wrapper's shape: its own hash as _id, no top-level "created".
		upstream := bson.D{{Key: "processing", Value: bson.D{{Key: "data_processes", Value: bson.A{bson.D{{Key: "code", Value: bson.D{
			{Key: "url", Value: "https://example.org/a"}, {Key: "name", Value: "analysis"}, {Key: "version", Value: "1.0"},
			{Key: "parameters", Value: bson.D{{Key: "alpha", Value: 2.5}}},
			{Key: "input_data", Value: bson.A{bson.D{{Key: "object_type", Value: identity.ObjectTypeDataAsset}, {Key: "url", Value: inputs[0]}}}},
		}}}}}}}}
		for _, tt := range []struct {
			scope string
			own   bool // OwnRecords: this very record only
			found bool
		}{{"", false, true}, {"https://example.org/a", false, true}, {"https://example.org/other", false, false}, {"https://example.org/a", true, false}} {
			s := open(t)
			if _, err := s.InsertIfAbsent(ctx, "upstream-own-hash", upstream); err != nil {
				t.Fatal(err)
			}
			docdb.ScopeUpstream(s, tt.scope)
			if tt.own {
				docdb.OwnRecords(s)
			}
			got, err := s.Existing(ctx, []string{ours})
			if err != nil || got[ours] != tt.found {
				t.Fatalf("scope %q, own records only %v: Existing = %v, %v; want found %v", tt.scope, tt.own, got, err, tt.found)
			}
		}
	})

	t.Run("refused query is permanent with the server's message", func(t *testing.T) {
		s := open(t)
		if err := s.Upsert(ctx, "x", bson.D{{Key: "n", Value: 1}}); err != nil {
			t.Fatal(err)
		}
		err := s.Find(ctx, bson.D{{Key: "n", Value: bson.D{{Key: "$bogus", Value: 1}}}}, docdb.FindOptions{}, func(bson.Raw) error { return nil })
		if err == nil || fault.IsTransient(err) || fault.IsUsage(err) || !strings.Contains(err.Error(), "$bogus") {
			t.Fatalf("bad filter: %v", err)
		}
	})
}

func TestOpenSelection(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		cfg  docdb.Config
		want string
	}{
		{"neither", docdb.Config{}, "neither"},
		{"both", docdb.Config{URI: "mongodb://u:pw@127.0.0.1:1/", Host: "api.example.org"}, "both"},
		{"plain http to a remote host", docdb.Config{Host: "http://api.example.org"}, "loopback"},
		{"a path in the host", docdb.Config{Host: "https://api.example.org/v1"}, "host name"},
		{"missing gateway CA file", docdb.Config{Host: "api.example.org", TLSCAFile: "/nonexistent.pem"}, "CA file"},
		{"credentials in the host", docdb.Config{Host: "https://u:pw@api.example.org"}, "credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := docdb.Open(ctx, tt.cfg)
			if !fault.IsUsage(err) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "pw") {
				t.Fatalf("Open: %v, want a usage error about %q without the password", err, tt.want)
			}
		})
	}
	for host, want := range map[string]string{
		"api.example.org":        "https://api.example.org/v1",
		"http://127.0.0.1:8080/": "http://127.0.0.1:8080/v1",
		"http://localhost:8080":  "http://localhost:8080/v1",
	} {
		b, err := docdb.Open(ctx, docdb.Config{Host: host})
		if err != nil || b.Describe() != want {
			t.Errorf("Open(%q): %v, %v; want %s", host, b, err, want)
		}
	}
}

// one returns the document with _id = id as relaxed Extended JSON ("" when absent).
func one(t *testing.T, s docdb.Store, id string) string {
	t.Helper()
	got := ""
	err := s.Find(context.Background(), bson.D{{Key: "_id", Value: id}}, docdb.FindOptions{}, func(doc bson.Raw) error {
		b, err := bson.MarshalExtJSON(doc, false, false)
		got = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}
