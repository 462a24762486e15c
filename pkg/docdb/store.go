package docdb

import (
	"context"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// Store is one collection of the record store, whichever way DocDB is reached. Both
// *Collection (the Mongo driver) and *GatewayCollection (the HTTP gateway) implement it,
// and the role interfaces of pkg/dispatch (RecordFinder, DoneLookup) and pkg/wrapper
// (Records, Claims) are subsets of it.
//
// Contracts, the same for both implementations:
//   - Find calls fn once per matching document, in Sort order (the gateway pages by _id,
//     so it takes only nil, {_id: 1} or {_id: -1}); fn's error stops it and is returned
//     unchanged. A document deleted during a Find never makes it miss another one.
//   - Existing answers for all ids in few batched queries and returns only ids that exist.
//   - InsertIfAbsent creates the document with _id = id only if none exists, and reports
//     whether the stored document is doc (true also when an earlier attempt of the same
//     write inserted it); a different document at id is left untouched (false). Result
//     records are written this way.
//   - Upsert sets doc's fields at _id = id ($set with upsert: inserted if absent, fields
//     doc does not have are kept); it is idempotent. Both implementations do exactly this.
//   - Claim returns true when holder holds the claim (taking over an expired one); Renew
//     fails with ErrClaimLost (permanent) when it was lost; Release drops it if still held.
//   - Errors are classified: fault.Transient once bounded retries are spent on network
//     faults, timeouts, 429 and 5xx; fault.Permanent for what the server refuses (its
//     message included); fault.Usage for bad configuration.
type Store interface {
	Name() string
	Find(ctx context.Context, filter any, o FindOptions, fn func(bson.Raw) error) error
	Existing(ctx context.Context, ids []string) (map[string]bool, error)
	InsertIfAbsent(ctx context.Context, id string, doc any) (bool, error)
	Upsert(ctx context.Context, id string, doc any) error
	Claim(ctx context.Context, id, holder string, lease time.Duration) (bool, error)
	Renew(ctx context.Context, id, holder string, lease time.Duration) error
	Release(ctx context.Context, holder string, ids []string) error
}

// Backend is an open connection to DocDB: the Mongo driver's pool or the HTTP gateway.
type Backend interface {
	// Collection returns a handle on database.collection.
	Collection(database, collection string) Store
	// Describe says where the backend points, without credentials (for logs).
	Describe() string
	// Close releases the connection.
	Close(ctx context.Context) error
}

var (
	_ Store   = (*Collection)(nil)
	_ Store   = (*GatewayCollection)(nil)
	_ Backend = mongoBackend{}
	_ Backend = (*Gateway)(nil)
)

// Config selects and configures a backend: URI means the Mongo driver, Host the HTTP
// gateway; exactly one must be set.
type Config struct {
	// URI is a mongodb:// or mongodb+srv:// connection string (see Options.URI).
	URI string
	// TLSCAFile is a PEM CA bundle for TLS to the Mongo server (AWS DocumentDB), or to a
	// gateway behind a private CA.
	TLSCAFile string
	// Host is the gateway's host (DOCDB_HOST): "api.example.org" means https; a value
	// with a scheme keeps it ("http://127.0.0.1:8080"; plain http only for loopback).
	Host string
	// Version is the gateway API version path segment (DOCDB_VERSION, default "v1").
	Version string
	// Timeout bounds one attempt: Mongo server selection, or one HTTP request (default 10s
	// for Mongo, 60s for the gateway).
	Timeout time.Duration
	// Attempts and Backoff bound the retries of transient faults (defaults 3 and 500ms
	// for Mongo, 5 and 500ms for the gateway), the backoff doubling after each attempt.
	Attempts int
	Backoff  time.Duration
	// Monitor, when set, observes every Mongo command (tests count queries with it).
	Monitor *event.CommandMonitor
	// HTTPClient carries gateway requests (default: a client with Timeout).
	HTTPClient *http.Client
	// Credentials and Region sign gateway writes (SigV4, service execute-api). Default:
	// the standard AWS chain (AWS_ACCESS_KEY_ID..., profiles, SSO, instance roles) and
	// AWS_REGION, else us-west-2. Loaded on the first write, so reads need none.
	Credentials aws.CredentialsProvider
	Region      string
	// PageSize is the gateway find page size asked for (default 500; the server may cap it).
	PageSize int
	// MaxPayload bounds one gateway write body; bulk writes are chunked under it
	// (default 1 MiB minus headroom; a 413 splits a chunk further).
	MaxPayload int
}

// Open connects to the backend Config selects.
func Open(ctx context.Context, c Config) (Backend, error) {
	switch {
	case c.URI != "" && c.Host != "":
		return nil, fault.Usagef("DocDB: both a Mongo URI (--docdb-uri / DOCDB_URI) and a gateway host (--docdb-host / DOCDB_HOST) are set; give one")
	case c.URI == "" && c.Host == "":
		return nil, fault.Usagef("DocDB: neither a Mongo URI (--docdb-uri / DOCDB_URI) nor a gateway host (--docdb-host / DOCDB_HOST) is set")
	case c.URI != "":
		cl, err := Connect(ctx, Options{URI: c.URI, TLSCAFile: c.TLSCAFile, ServerSelectionTimeout: c.Timeout, Attempts: c.Attempts, Backoff: c.Backoff, Monitor: c.Monitor})
		if err != nil {
			return nil, err
		}
		return mongoBackend{cl}, nil
	default:
		return OpenGateway(ctx, c)
	}
}

// mongoBackend adapts *Client to Backend.
type mongoBackend struct{ *Client }

func (b mongoBackend) Collection(database, collection string) Store {
	return b.Client.Collection(database, collection)
}

func (b mongoBackend) Describe() string { return b.safe }

// Backend returns c as a Backend.
func (c *Client) Backend() Backend { return mongoBackend{c} }
