// Package docdb is the record store over a MongoDB-compatible DocDB (AWS DocumentDB in
// production, FerretDB in the devstack): streaming finds with filter and projection, a
// batched "which of these ids exist" lookup, insert-if-absent and $set upserts by _id, and
// job claims (Store). Two
// implementations, chosen by Config in Open: the direct driver (go.mongodb.org/mongo-driver/v2,
// a mongodb:// URI; Connect, Collection) and the AIND HTTP gateway (DOCDB_HOST; OpenGateway,
// GatewayCollection, see gateway.go). Errors are classified here, once: network faults,
// timeouts (and the gateway's 429/5xx) that outlast the bounded retries are
// fault.Transient, bad configuration is fault.Usage, anything else the server refuses is
// fault.Permanent with the server's message.
package docdb

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"golang.org/x/sync/errgroup"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// Options configures a connection.
type Options struct {
	// URI is a mongodb:// or mongodb+srv:// connection string. For AWS DocumentDB use
	// tls=true&replicaSet=rs0&readPreference=secondaryPreferred&retryWrites=false.
	URI string
	// TLSCAFile is a PEM bundle of CA certificates (AWS DocumentDB's global-bundle.pem).
	// Setting it turns TLS on.
	TLSCAFile string
	// ServerSelectionTimeout bounds how long one attempt waits for a reachable server
	// (default 10s).
	ServerSelectionTimeout time.Duration
	// Attempts bounds how often an operation that failed transiently is tried (default 3).
	Attempts int
	// Backoff is about the wait before the second attempt, doubled after each, jittered
	// and capped (retryPolicy; default 500ms).
	Backoff time.Duration
	// Monitor, when set, observes every command (tests count queries with it).
	Monitor *event.CommandMonitor
}

// Client is a connection pool to one DocDB deployment.
type Client struct {
	mc   *mongo.Client
	opts Options
	safe string // URI with the password redacted, for messages

	ferretOnce sync.Once
	ferret     bool // the server is FerretDB (see isFerretDB)
}

// isFerretDB reports whether the server is FerretDB, asked once per client (buildInfo
// carries a "ferretdb" member there). FerretDB v1 answers a filter {_id: x} from its _id
// index but scans the whole collection, decoding every document, for {_id: {$in: [...]}}
// (its SQLite backend pushes down only a lone _id equality: internal/backends/sqlite/
// collection.go); MongoDB and DocumentDB answer both from the index. A failed buildInfo
// counts as "not FerretDB".
func (c *Client) isFerretDB(ctx context.Context) bool {
	c.ferretOnce.Do(func() {
		raw, err := c.mc.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Raw()
		if err == nil {
			_, err = raw.LookupErr("ferretdbVersion")
			c.ferret = err == nil
		}
	})
	return c.ferret
}

// Redact returns uri with any password replaced by "xxxxx", for logs and errors.
func Redact(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		if err != nil {
			return "<unparseable DocDB URI>"
		}
		return uri
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Connect opens a pool and checks, with bounded retries, that the server answers.
func Connect(ctx context.Context, o Options) (*Client, error) {
	if o.URI == "" {
		return nil, fault.Usagef("DocDB: no connection string given (set --docdb-uri or DOCDB_URI)")
	}
	if !strings.HasPrefix(o.URI, "mongodb://") && !strings.HasPrefix(o.URI, "mongodb+srv://") {
		return nil, fault.Usagef("DocDB URI %q: must start with mongodb:// or mongodb+srv://", Redact(o.URI))
	}
	if o.ServerSelectionTimeout <= 0 {
		o.ServerSelectionTimeout = 10 * time.Second
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.Backoff <= 0 {
		o.Backoff = 500 * time.Millisecond
	}
	safe := Redact(o.URI)
	co := options.Client().ApplyURI(o.URI).
		SetServerSelectionTimeout(o.ServerSelectionTimeout).
		SetConnectTimeout(o.ServerSelectionTimeout).
		SetAppName("aind-analysis-go")
	if o.Monitor != nil {
		co.SetMonitor(o.Monitor)
	}
	if strings.Contains(o.URI, ".docdb.amazonaws.com") {
		// AWS DocumentDB does not support retryable writes.
		co.SetRetryWrites(false)
	}
	if o.TLSCAFile != "" {
		pool, err := loadCAs(o.TLSCAFile)
		if err != nil {
			return nil, err
		}
		co.SetTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	}
	if err := co.Validate(); err != nil {
		return nil, fault.Usagef("DocDB URI %s: %w", safe, err)
	}
	mc, err := mongo.Connect(co)
	if err != nil {
		return nil, fault.Usagef("DocDB URI %s: %w", safe, err)
	}
	c := &Client{mc: mc, opts: o, safe: safe}
	err = c.retry(ctx, func(ctx context.Context) error { return mc.Ping(ctx, readpref.PrimaryPreferred()) })
	if err != nil {
		_ = mc.Disconnect(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("connecting to DocDB %s: %w", safe, err)
	}
	return c, nil
}

// loadCAs reads a PEM bundle of CA certificates.
func loadCAs(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fault.Usagef("DocDB TLS CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fault.Usagef("DocDB TLS CA file %s: no PEM certificate found", path)
	}
	return pool, nil
}

// Close releases the pool.
func (c *Client) Close(ctx context.Context) error {
	return c.mc.Disconnect(ctx)
}

// Collection returns a handle on database.collection.
func (c *Client) Collection(database, collection string) *Collection {
	return &Collection{c: c, coll: c.mc.Database(database).Collection(collection)}
}

// retry runs op under the retry policy (retryPolicy) while it fails transiently, and
// returns its last error classified. A cancelled context stops it at once.
func (c *Client) retry(ctx context.Context, op func(context.Context) error) error {
	tries, err := retryPolicy{attempts: c.opts.Attempts, first: c.opts.Backoff}.do(ctx, op, isTransient)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return classify(err, tries)
}

// transientCodes are server error codes that mean "try again later".
var transientCodes = map[int32]bool{
	6: true, 7: true, 89: true, 91: true, 189: true, 262: true, 9001: true,
	10107: true, 11600: true, 11602: true, 13435: true, 13436: true,
}

func isTransient(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	if mongo.IsNetworkError(err) || mongo.IsTimeout(err) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if strings.Contains(err.Error(), "server selection error") {
		return true
	}
	var se mongo.ServerError
	if errors.As(err, &se) {
		for code := range transientCodes {
			if se.HasErrorCode(int(code)) {
				return true
			}
		}
		return se.HasErrorLabel("RetryableWriteError") || se.HasErrorLabel("TransientTransactionError")
	}
	return false
}

func classify(err error, attempts int) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	if isTransient(err) {
		return fault.Transient(fmt.Errorf("DocDB unreachable after %d attempts (is it running, and are DOCDB_URI / DOCDB_HOST right?): %w", attempts, plainSelection(err)))
	}
	return fault.Permanent(err)
}

// Collection is one DocDB collection.
type Collection struct {
	c        *Client
	coll     *mongo.Collection
	upstream upstreamIndex
}

// Name returns "database.collection".
func (col *Collection) Name() string {
	return col.coll.Database().Name() + "." + col.coll.Name()
}

// FindOptions shape a Find.
type FindOptions struct {
	// Projection selects the fields returned (nil: whole documents).
	Projection any
	// Sort orders the results (nil: server order).
	Sort any
	// BatchSize is the number of documents per server round trip (0: server default).
	BatchSize int32
}

// Find streams every document matching filter to fn, in server batches, without holding
// the result set in memory. Opening the cursor is retried on transient faults; a fault
// after documents have flowed is returned (not retried, so fn never sees a document twice).
// fn returning an error stops the stream and Find returns that error unchanged.
func (col *Collection) Find(ctx context.Context, filter any, o FindOptions, fn func(bson.Raw) error) error {
	fo := options.Find()
	if o.Projection != nil {
		fo.SetProjection(o.Projection)
	}
	if o.Sort != nil {
		fo.SetSort(o.Sort)
	}
	if o.BatchSize > 0 {
		fo.SetBatchSize(o.BatchSize)
	}
	var cur *mongo.Cursor
	err := col.c.retry(ctx, func(ctx context.Context) error {
		var err error
		cur, err = col.coll.Find(ctx, filter, fo)
		return err
	})
	if err != nil {
		return fmt.Errorf("querying %s: %w", col.Name(), err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	for cur.Next(ctx) {
		if err := fn(cur.Current); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("reading %s: %w", col.Name(), classify(err, 1))
	}
	return nil
}

// ExistingChunk is how many ids one Existing query carries: well under the 16 MiB
// command limit for 64-character ids.
const ExistingChunk = 10000

// existingConcurrency bounds the lookups in flight when Existing asks one id at a time.
const existingConcurrency = 16

// Existing returns which of ids have a document with that _id: one query per
// ExistingChunk ids (so one query for a typical dispatch or wrapper task), projecting only
// _id. On FerretDB (isFerretDB), which scans the collection for $in, it asks one id at a
// time by equality, existingConcurrency at once: each an index lookup, so the cost follows
// the ids asked, not the records stored. An id still missing is also found when a record
// of the Python wrapper (analysis-pipeline-utils, its own hash as _id) has that identity
// (see upstreamIndex; read once per handle).
func (col *Collection) Existing(ctx context.Context, ids []string) (map[string]bool, error) {
	found := make(map[string]bool)
	var err error
	if len(ids) == 1 || (len(ids) > 1 && col.c.isFerretDB(ctx)) {
		err = col.existingEach(ctx, ids, found)
	} else {
		err = col.existingIn(ctx, ids, found)
	}
	if err != nil {
		return nil, err
	}
	if err := col.upstream.addUpstream(ctx, col, ids, found); err != nil {
		return nil, err
	}
	return found, nil
}

// idProjection returns only _id.
var idProjection = FindOptions{Projection: bson.D{{Key: "_id", Value: 1}}}

// existingIn marks the ids found with one $in query per ExistingChunk ids.
func (col *Collection) existingIn(ctx context.Context, ids []string, found map[string]bool) error {
	for start := 0; start < len(ids); start += ExistingChunk {
		chunk := ids[start:min(start+ExistingChunk, len(ids))]
		filter := bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: chunk}}}}
		err := col.Find(ctx, filter, idProjection, func(doc bson.Raw) error {
			if id, ok := doc.Lookup("_id").StringValueOK(); ok {
				found[id] = true
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("looking up %d ids: %w", len(chunk), err)
		}
	}
	return nil
}

// existingEach marks the ids found with one equality query each, a few at once.
func (col *Collection) existingEach(ctx context.Context, ids []string, found map[string]bool) error {
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(existingConcurrency)
	for _, id := range ids {
		g.Go(func() error {
			return col.Find(gctx, bson.D{{Key: "_id", Value: id}}, idProjection, func(bson.Raw) error {
				mu.Lock()
				found[id] = true
				mu.Unlock()
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("looking up %d ids: %w", len(ids), err)
	}
	return nil
}
