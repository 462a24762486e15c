package docdb_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/devstacktest"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/docdb"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// testFaultHeader is the devstack gateway's test hook (--docdb-gateway-test-faults): a
// request carrying it is answered with the status it names.
const testFaultHeader = "X-Aind-Test-Fault"

// faultInjector is an http.RoundTripper adding testFaultHeader to the next requests of an
// op (queued statuses), and counting requests per op. The requests still go to the real
// gateway over loopback.
type faultInjector struct {
	mu     sync.Mutex
	queued map[string][]int
	lost   map[string]int // replies to lose: the request is applied, the caller sees a network fault
	sent   map[string]int
}

// loseReplies makes the next n requests of op reach the gateway (and be applied) while
// their replies are lost, as when a connection breaks after the server acted.
func (f *faultInjector) loseReplies(op string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lost[op] += n
}

func (f *faultInjector) inject(op string, statuses ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queued[op] = append(f.queued[op], statuses...)
}

func (f *faultInjector) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent[op]
}

func (f *faultInjector) RoundTrip(req *http.Request) (*http.Response, error) {
	op := path.Base(req.URL.Path)
	f.mu.Lock()
	f.sent[op]++
	if q := f.queued[op]; len(q) > 0 {
		req = req.Clone(req.Context())
		req.Header.Set(testFaultHeader, fmt.Sprint(q[0]))
		f.queued[op] = q[1:]
	}
	lose := f.lost[op] > 0
	if lose {
		f.lost[op]--
	}
	f.mu.Unlock()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if lose && err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil, errors.New("connection reset by peer (injected: the reply was lost)")
	}
	return resp, err
}

type gatewayFixture struct {
	env    *devstacktest.Env
	faults *faultInjector
	coll   *docdb.GatewayCollection
}

func newGatewayFixture(t *testing.T, tweak func(*docdb.Config)) gatewayFixture {
	env := devstacktest.Get(t)
	fi := &faultInjector{queued: map[string][]int{}, lost: map[string]int{}, sent: map[string]int{}}
	cfg := env.DocDBConfig(devstacktest.BackendGateway)
	cfg.HTTPClient = &http.Client{Transport: fi}
	if tweak != nil {
		tweak(&cfg)
	}
	g, err := docdb.OpenGateway(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close(context.Background()) })
	return gatewayFixture{env: env, faults: fi, coll: g.GatewayCollection(env.NewDatabase(t), "records")}
}

func findAll(t *testing.T, s docdb.Store, o docdb.FindOptions) (int, error) {
	t.Helper()
	n := 0
	err := s.Find(context.Background(), bson.D{}, o, func(bson.Raw) error { n++; return nil })
	return n, err
}

func TestGatewayFaults(t *testing.T) {
	ctx := context.Background()
	f := newGatewayFixture(t, nil)
	for i := 0; i < 30; i++ {
		if err := f.coll.Upsert(ctx, fmt.Sprintf("d%02d", i), bson.D{{Key: "i", Value: i}}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("413 halves the page and retries", func(t *testing.T) {
		f.faults.inject("find", 413, 413)
		before := f.faults.count("find")
		n, err := findAll(t, f.coll, docdb.FindOptions{BatchSize: 40})
		if err != nil || n != 30 {
			t.Fatalf("Find after 413s: %d docs, %v", n, err)
		}
		// 40 -> 20 -> 10 per page: two refused, then pages of 10 (3) and an empty one.
		if got := f.faults.count("find") - before; got != 6 {
			t.Fatalf("%d find requests, want 6", got)
		}
	})

	t.Run("transient 503 is retried", func(t *testing.T) {
		f.faults.inject("update_one", 503, 503)
		if err := f.coll.Upsert(ctx, "d00", bson.D{{Key: "i", Value: 100}}); err != nil {
			t.Fatalf("Upsert after two 503s: %v", err)
		}
		f.faults.inject("find", 429)
		if n, err := findAll(t, f.coll, docdb.FindOptions{}); err != nil || n != 30 {
			t.Fatalf("Find after a 429: %d, %v", n, err)
		}
	})

	t.Run("503 outlasting the retries is transient", func(t *testing.T) {
		f.faults.inject("update_one", 503, 503, 503, 503, 503)
		err := f.coll.Upsert(ctx, "d00", bson.D{{Key: "i", Value: 1}})
		if !fault.IsTransient(err) || !strings.Contains(err.Error(), "injected fault 503") {
			t.Fatalf("Upsert under persistent 503: %v", err)
		}
	})

	t.Run("400 is permanent with the server's message", func(t *testing.T) {
		f.faults.inject("find", 400)
		before := f.faults.count("find")
		_, err := findAll(t, f.coll, docdb.FindOptions{})
		var ge *docdb.GatewayError
		if err == nil || fault.IsTransient(err) || !errors.As(err, &ge) || ge.Status != 400 || !strings.Contains(err.Error(), "injected fault 400") {
			t.Fatalf("Find under 400: %v", err)
		}
		if got := f.faults.count("find") - before; got != 1 {
			t.Fatalf("a 400 was retried: %d requests", got)
		}
		// A real refusal from the server, not injected.
		_, err = f.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "d01"}}, bson.D{{Key: "$nope", Value: bson.D{{Key: "i", Value: 1}}}}, false)
		if !errors.As(err, &ge) || ge.Status != 400 || fault.IsTransient(err) || ge.Message == "" {
			t.Fatalf("bad update operator: %v", err)
		}
	})
}

// A write whose reply was lost may have been applied: an insert is not sent again blindly,
// and the inserts that are resent (InsertIfAbsent, Claim) recognise their own success.
func TestGatewayWritesAfterALostReply(t *testing.T) {
	ctx := context.Background()
	f := newGatewayFixture(t, nil)
	tests := []struct {
		name      string
		write     func(id string) (bool, error)
		wantOK    bool   // the write reports success (for Claim and InsertIfAbsent: held, ours)
		wantErr   string // else the error says this
		wantSends int    // insert_one requests
	}{
		{"InsertOne is not resent", func(id string) (bool, error) {
			err := f.coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}})
			return err == nil, err
		}, false, "may have been applied", 1},
		{"InsertIfAbsent is resent and finds its own document", func(id string) (bool, error) {
			return f.coll.InsertIfAbsent(ctx, id, bson.D{{Key: "v", Value: 1}})
		}, true, "", 2},
		{"Claim is resent and finds its own claim", func(id string) (bool, error) {
			return f.coll.Claim(ctx, id, "me", time.Minute)
		}, true, "", 2},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("lost%d", i)
			f.faults.loseReplies("insert_one", 1)
			before := f.faults.count("insert_one")
			ok, err := tt.write(id)
			if ok != tt.wantOK || (tt.wantErr == "") != (err == nil) || (err != nil && (!strings.Contains(err.Error(), tt.wantErr) || !fault.IsTransient(err))) {
				t.Fatalf("after a lost reply: %v, %v; want %v, error %q (transient)", ok, err, tt.wantOK, tt.wantErr)
			}
			if got := f.faults.count("insert_one") - before; got != tt.wantSends {
				t.Errorf("%d insert_one requests, want %d", got, tt.wantSends)
			}
			if _, n, err := f.coll.Count(ctx, bson.D{{Key: "_id", Value: id}}); err != nil || n != 1 {
				t.Errorf("the first attempt was applied: %d documents %s, %v", n, id, err)
			}
		})
	}
	// A claim held by another is still not ours.
	if held, err := f.coll.Claim(ctx, "lost2", "another", time.Minute); held || err != nil {
		t.Fatalf("another holder's Claim of a held claim: %v, %v", held, err)
	}
	// A 503 shows the server did not apply the insert: it is resent.
	f.faults.inject("insert_one", 503)
	if err := f.coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "after503"}}); err != nil {
		t.Fatalf("InsertOne after a 503: %v", err)
	}
}

// TestGatewayFindPagesByKey deletes records while Find pages through them: records
// behind the reader (already seen) and ahead of it. Paging by _id sees every other record
// exactly once, in order, in as many requests as the pages need; skip/limit paging would
// skip as many unseen records as were deleted behind it.
func TestGatewayFindPagesByKey(t *testing.T) {
	const (
		n     = 200 // kind "a", ids a000..a199, i = 0..199
		other = 50  // kind "b": the filter leaves them out
		page  = 40
	)
	tests := []struct {
		name       string
		filter     bson.D
		sort       bson.D
		projection bson.D
	}{
		{"all, by _id", nil, nil, nil},
		{"filtered, by _id", bson.D{{Key: "kind", Value: "a"}}, bson.D{{Key: "_id", Value: 1}}, nil},
		{"filtered, by _id descending", bson.D{{Key: "kind", Value: "a"}}, bson.D{{Key: "_id", Value: -1}}, nil},
		{"filtered, projection without _id", bson.D{{Key: "kind", Value: "a"}}, nil, bson.D{{Key: "_id", Value: 0}, {Key: "i", Value: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := newGatewayFixture(t, nil)
			var ops []json.RawMessage
			for i := 0; i < n+other; i++ {
				id, kind := fmt.Sprintf("a%03d", i), "a"
				if i >= n {
					id, kind = fmt.Sprintf("b%03d", i-n), "b"
				}
				op, err := docdb.BulkUpsert(id, bson.D{{Key: "kind", Value: kind}, {Key: "i", Value: i}})
				if err != nil {
					t.Fatal(err)
				}
				ops = append(ops, op)
			}
			if _, err := f.coll.BulkWrite(ctx, ops); err != nil {
				t.Fatal(err)
			}
			want := n
			if tt.filter == nil {
				want = n + other
			}
			desc := len(tt.sort) == 1 && tt.sort[0].Value == -1
			// At the 50th document (in the second page) delete the 30 seen first and 10
			// that are 100 to 109 places further on.
			var order []int32
			var deletedAhead map[int32]bool
			seen := map[int32]int{}
			before := f.faults.count("find")
			err := f.coll.Find(ctx, tt.filter, docdb.FindOptions{Sort: tt.sort, Projection: tt.projection, BatchSize: page}, func(doc bson.Raw) error {
				if _, err := doc.LookupErr("_id"); (err == nil) == (tt.projection != nil) {
					return fmt.Errorf("document %v: _id present = %v with projection %v", doc, err == nil, tt.projection)
				}
				i := doc.Lookup("i").Int32()
				order = append(order, i)
				seen[i]++
				if len(order) != 50 {
					return nil
				}
				var ids []string
				for _, j := range order[:30] {
					ids = append(ids, fmt.Sprintf("a%03d", j))
				}
				deletedAhead = map[int32]bool{}
				for k := int32(100); k < 110; k++ {
					j := i + k
					if desc {
						j = i - k
					}
					deletedAhead[j] = true
					ids = append(ids, fmt.Sprintf("a%03d", j))
				}
				if d, err := f.coll.Delete(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, true); err != nil || d != 40 {
					return fmt.Errorf("deleting 40 records: %d, %v", d, err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := int32(0); i < int32(want); i++ {
				if c := seen[i]; (deletedAhead[i] && c != 0) || (!deletedAhead[i] && c != 1) {
					t.Errorf("record %d seen %d times (deleted ahead: %v)", i, c, deletedAhead[i])
				}
			}
			for k := 1; k < len(order); k++ {
				if (order[k] > order[k-1]) == desc {
					t.Fatalf("out of order: %d after %d", order[k], order[k-1])
				}
			}
			if len(order) != want-10 {
				t.Fatalf("saw %d records, want %d", len(order), want-10)
			}
			// Full pages, the last partial one, and the empty page that ends it.
			if got, wantReq := f.faults.count("find")-before, (want-10+page-1)/page+1; got != wantReq {
				t.Fatalf("%d find requests, want %d", got, wantReq)
			}
		})
	}

	t.Run("another order is refused", func(t *testing.T) {
		f := newGatewayFixture(t, nil)
		_, err := findAll(t, f.coll, docdb.FindOptions{Sort: bson.D{{Key: "i", Value: 1}}})
		if !fault.IsUsage(err) || !strings.Contains(err.Error(), "_id") {
			t.Fatalf("Find sorted by i: %v", err)
		}
	})
}

func TestGatewayRealPayloadLimits(t *testing.T) {
	ctx := context.Background()
	f := newGatewayFixture(t, func(c *docdb.Config) { c.MaxPayload = 300 << 10 })
	big := strings.Repeat("x", 60<<10)
	var ops []json.RawMessage
	for i := 0; i < 30; i++ { // 30 x 60 KiB: 1.8 MiB in all, over the 1 MiB limit
		op, err := docdb.BulkUpsert(fmt.Sprintf("big%02d", i), bson.D{{Key: "blob", Value: big}, {Key: "i", Value: i}})
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, op)
	}
	res, err := f.coll.BulkWrite(ctx, ops)
	if err != nil || res.UpsertedCount != 30 {
		t.Fatalf("BulkWrite: %+v, %v", res, err)
	}
	if n := f.faults.count("bulk_write"); n < 6 {
		t.Fatalf("1.8 MiB sent in %d bulk_write requests, want chunks under 300 KiB", n)
	}
	// A page of 100 such documents is over the server's reply limit: the server returns
	// the ~16 that fit (as the real gateway's find does), and the client pages on.
	before := f.faults.count("find")
	n, err := findAll(t, f.coll, docdb.FindOptions{})
	if err != nil || n != 30 {
		t.Fatalf("Find of big documents: %d, %v", n, err)
	}
	if f.faults.count("find")-before < 3 {
		t.Fatal("30 documents of 60 KiB in fewer than 3 find requests: the server's payload limit did not shorten a page")
	}
	// A single body over the limit is refused by the server with 413 (permanent once it
	// cannot be split).
	f2 := newGatewayFixture(t, func(c *docdb.Config) { c.MaxPayload = 4 << 20 })
	err = f2.coll.Upsert(ctx, "huge", bson.D{{Key: "blob", Value: strings.Repeat("y", 2<<20)}})
	var ge *docdb.GatewayError
	if !errors.As(err, &ge) || ge.Status != 413 || fault.IsTransient(err) {
		t.Fatalf("2 MiB upsert: %v", err)
	}
}

func TestGatewayOps(t *testing.T) {
	ctx := context.Background()
	f := newGatewayFixture(t, nil)
	for i := 0; i < 5; i++ {
		if err := f.coll.InsertOne(ctx, bson.D{{Key: "_id", Value: fmt.Sprint(i)}, {Key: "even", Value: i%2 == 0}}); err != nil {
			t.Fatal(err)
		}
	}
	var ge *docdb.GatewayError
	if err := f.coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "0"}}); !errors.As(err, &ge) || ge.Status != http.StatusConflict {
		t.Fatalf("duplicate insert: %v", err)
	}
	total, filtered, err := f.coll.Count(ctx, bson.D{{Key: "even", Value: true}})
	if err != nil || total != 5 || filtered != 3 {
		t.Fatalf("Count = %d, %d, %v", total, filtered, err)
	}
	var groups []string
	err = f.coll.Aggregate(ctx, []any{bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$even"}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}}, bson.D{{Key: "$sort", Value: bson.D{{Key: "_id", Value: 1}}}}},
		func(d bson.Raw) error { groups = append(groups, d.String()); return nil })
	if err != nil || len(groups) != 2 {
		t.Fatalf("Aggregate = %v, %v", groups, err)
	}
	if err := f.coll.Aggregate(ctx, []any{bson.D{{Key: "$out", Value: "x"}}}, func(bson.Raw) error { return nil }); !errors.As(err, &ge) || ge.Status != 400 {
		t.Fatalf("aggregate with $out: %v", err)
	}
	res, err := f.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "new"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "x", Value: 1}}}}, true)
	if err != nil || res.UpsertedID != "new" {
		t.Fatalf("UpdateOne upsert = %+v, %v", res, err)
	}
	if n, err := f.coll.Delete(ctx, bson.D{{Key: "even", Value: true}}, false); err != nil || n != 1 {
		t.Fatalf("delete_one = %d, %v", n, err)
	}
	if n, err := f.coll.Delete(ctx, bson.D{{Key: "even", Value: bson.D{{Key: "$exists", Value: true}}}}, true); err != nil || n != 4 {
		t.Fatalf("delete_many = %d, %v", n, err)
	}
}

func TestGatewaySignatures(t *testing.T) {
	ctx := context.Background()
	env := devstacktest.Get(t)
	db := env.NewDatabase(t)
	target := env.DocDBHost + "/" + env.DocDBVersion + "/" + db + "/records/insert_one"

	t.Run("unsigned write refused", func(t *testing.T) {
		resp, err := http.Post(target, "application/json", bytes.NewReader([]byte(`{"_id":"u"}`)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "signed") {
			t.Fatalf("unsigned insert_one: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("wrong secret refused, permanently and without the secret", func(t *testing.T) {
		cfg := env.DocDBConfig(devstacktest.BackendGateway)
		cfg.Credentials = credentials.NewStaticCredentialsProvider(env.AccessKey, "not-the-secret-zz", "")
		b := env.OpenDocDBWith(t, cfg)
		err := b.Collection(db, "records").Upsert(ctx, "w", bson.D{{Key: "a", Value: 1}})
		var ge *docdb.GatewayError
		if !errors.As(err, &ge) || ge.Status != http.StatusForbidden || fault.IsTransient(err) || strings.Contains(err.Error(), "not-the-secret-zz") {
			t.Fatalf("badly signed write: %v", err)
		}
	})

	t.Run("reads need no signature; nothing was written", func(t *testing.T) {
		cfg := env.DocDBConfig(devstacktest.BackendGateway)
		cfg.Credentials = credentials.NewStaticCredentialsProvider("", "", "")
		b := env.OpenDocDBWith(t, cfg)
		n, err := findAll(t, b.Collection(db, "records"), docdb.FindOptions{})
		if err != nil || n != 0 {
			t.Fatalf("unsigned find: %d, %v", n, err)
		}
	})
}
