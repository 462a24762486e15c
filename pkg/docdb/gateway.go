package docdb

// The HTTP gateway most AIND users reach DocDB through (DOCDB_HOST), as served by
// aind-data-access-api and by the devstack's stand-in (devstack/docdbgw.go):
//
//	{scheme}://{host}/{version}/{database}/{collection}/{op}
//
// Documents travel as relaxed MongoDB Extended JSON both ways (so dates survive as
// {"$date": ...}). Requests and replies:
//
//	GET    find?filter=&projection=&sort=&limit=&skip=  -> [doc, ...] (the server caps limit,
//	                                                    and returns fewer documents when a page
//	                                                    would exceed its payload limit; this
//	                                                    client pages by _id, never skip, until
//	                                                    an empty page)
//	GET    count_documents?filter=                      -> {"total_record_count": n, "filtered_record_count": n}
//	POST   aggregate       body [stage, ...]            -> [doc, ...]
//	POST   insert_one      body doc   (signed)          -> {"inserted_id": id}; duplicate _id -> 409
//	POST   update_one      body {"filter", "update", "upsert": "True"} (signed)
//	                                                    -> {"matched_count", "modified_count", "upserted_id"}
//	POST   bulk_write      body [op, ...] (signed), op one of {"InsertOne": {"document"}},
//	                       {"UpdateOne": {"filter", "update", "upsert": "True"}}, {"DeleteOne": {"filter"}}
//	                       (pymongo's names, as MetadataDbClient sends them)
//	                                                    -> {"inserted_count", "matched_count", "modified_count", "deleted_count", "upserted_count"}
//	DELETE delete_one / delete_many body {"filter"} (signed) -> {"deleted_count": n}
//
// Errors are a status with {"message": "..."}: 400 bad request (the server's message is
// kept in the error), 403 bad or missing signature, 409 duplicate key, 413 payload or
// page too large, 429 / 5xx try again later.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// GatewayService is the SigV4 service name writes are signed for.
const GatewayService = "execute-api"

// Gateway is a client of the DocDB HTTP gateway.
type Gateway struct {
	base    *url.URL // scheme://host/version
	cfg     Config
	hc      *http.Client
	signer  *v4.Signer
	credsMu sync.Mutex
	creds   aws.CredentialsProvider
	region  string
}

// OpenGateway checks the configuration and returns a gateway client; it does not contact
// the server (the first request does).
func OpenGateway(ctx context.Context, c Config) (*Gateway, error) {
	base, err := gatewayBase(c.Host, c.Version)
	if err != nil {
		return nil, err
	}
	if c.Timeout <= 0 {
		c.Timeout = 60 * time.Second
	}
	if c.Attempts <= 0 {
		c.Attempts = 5
	}
	if c.Backoff <= 0 {
		c.Backoff = 500 * time.Millisecond
	}
	if c.PageSize <= 0 {
		c.PageSize = 500
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = 1<<20 - 16<<10
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: c.Timeout}
		if c.TLSCAFile != "" { // a gateway behind a private CA
			pool, err := loadCAs(c.TLSCAFile)
			if err != nil {
				return nil, err
			}
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
			hc.Transport = tr
		}
	}
	return &Gateway{base: base, cfg: c, hc: hc, signer: v4.NewSigner(), creds: c.Credentials, region: c.Region}, nil
}

// gatewayBase parses DOCDB_HOST: a bare host means https; an explicit scheme is kept,
// and plain http is only accepted for loopback hosts.
func gatewayBase(host, version string) (*url.URL, error) {
	host = strings.TrimRight(strings.TrimSpace(host), "/")
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	u, err := url.Parse(host)
	if err == nil && u.User != nil {
		return nil, fault.Usagef("DocDB gateway host: must not hold credentials (writes are signed with AWS credentials); want a host name, e.g. api.example.org")
	}
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fault.Usagef("DocDB gateway host %q: want a host name, e.g. api.example.org or http://127.0.0.1:8080", host)
	}
	switch u.Scheme {
	case "https":
	case "http":
		h := u.Hostname()
		ip := net.ParseIP(h)
		if h != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fault.Usagef("DocDB gateway host %q: plain http is only allowed for loopback hosts; use https", host)
		}
	default:
		return nil, fault.Usagef("DocDB gateway host %q: scheme must be https (or http for loopback)", host)
	}
	if version == "" {
		version = "v1"
	}
	u.Path = "/" + strings.Trim(version, "/")
	return u, nil
}

// Describe returns the gateway's base URL (it holds no credentials).
func (g *Gateway) Describe() string { return g.base.String() }

// Close releases idle connections.
func (g *Gateway) Close(context.Context) error {
	g.hc.CloseIdleConnections()
	return nil
}

// Collection returns a handle on database.collection.
func (g *Gateway) Collection(database, collection string) Store {
	return g.GatewayCollection(database, collection)
}

// GatewayCollection returns the concrete handle on database.collection, with the
// gateway-only operations (Count, Aggregate, bulk writes, deletes).
func (g *Gateway) GatewayCollection(database, collection string) *GatewayCollection {
	return &GatewayCollection{g: g, db: database, coll: collection}
}

// GatewayError is a reply with an error status; Message is the server's.
type GatewayError struct {
	Status  int
	Op      string
	Message string
}

func (e *GatewayError) Error() string {
	return fmt.Sprintf("DocDB gateway %s: %d %s: %s", e.Op, e.Status, http.StatusText(e.Status), e.Message)
}

func retryable(status int) bool { return status == http.StatusTooManyRequests || status >= 500 }

// credentials returns the signing credentials and region, loading the default chain once.
func (g *Gateway) credentials(ctx context.Context) (aws.Credentials, string, error) {
	g.credsMu.Lock()
	if g.creds == nil {
		ac, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			g.credsMu.Unlock()
			return aws.Credentials{}, "", fault.Usagef("DocDB gateway: loading AWS credentials for signing: %w", err)
		}
		g.creds = ac.Credentials
		if g.region == "" {
			g.region = ac.Region
		}
	}
	if g.region == "" {
		g.region = "us-west-2"
	}
	prov, region := g.creds, g.region
	g.credsMu.Unlock()
	if prov == nil {
		return aws.Credentials{}, "", fault.Usagef("DocDB gateway: no AWS credentials to sign writes (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile)")
	}
	creds, err := prov.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, "", fault.Usagef("DocDB gateway: retrieving AWS credentials for signing: %w", err)
	}
	return creds, region, nil
}

// resend says whether a gateway request may be sent again after a failure that leaves its
// outcome unknown: no reply (a network fault, a timeout) or a 5xx other than 503.
type resend bool

const (
	// idempotent requests (reads, $set updates, deletes by filter) are resent after any
	// transient failure: applying one twice is applying it once.
	idempotent resend = true
	// onceOnly requests (inserts, bulk writes) are resent only after a failure that shows
	// the server did not apply them (429, 503), never after one that may hide a success.
	onceOnly resend = false
)

// errMaybeApplied marks a failure after which a onceOnly request is not resent.
var errMaybeApplied = errors.New("the request may have been applied; not sent again")

// call sends one request (retried on transient faults under the retry policy, as r allows)
// and decodes a 2xx reply into out (unless nil). A 413 is returned at once (callers shrink
// and retry).
func (g *Gateway) call(ctx context.Context, method, path, op string, query url.Values, body []byte, sign bool, r resend, out any) error {
	u := *g.base
	u.Path += path + "/" + op
	u.RawQuery = query.Encode()
	transient := func(err error) bool { return fault.IsTransient(err) && !errors.Is(err, errMaybeApplied) }
	tries, err := retryPolicy{attempts: g.cfg.Attempts, first: g.cfg.Backoff}.do(ctx, func(ctx context.Context) error {
		status, err := g.once(ctx, method, u.String(), op, body, sign, out)
		if err == nil {
			return nil
		}
		var ge *GatewayError
		switch {
		case fault.IsUsage(err):
			return err
		case status == 0 && errors.As(err, &ge), status != 0 && !retryable(status):
			return fault.Permanent(err)
		case r == onceOnly && status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable:
			return fault.Transient(fmt.Errorf("%w (%w)", err, errMaybeApplied))
		}
		return fault.Transient(err)
	}, transient)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case transient(err):
		return fault.Transient(fmt.Errorf("DocDB gateway unavailable after %d attempts: %w", tries, err))
	}
	return err
}

// once sends one request; status is 0 when no reply came (network fault, timeout).
func (g *Gateway) once(ctx context.Context, method, target, op string, body []byte, sign bool, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return -1, fault.Usagef("DocDB gateway request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if sign {
		creds, region, err := g.credentials(ctx)
		if err != nil {
			return -1, err
		}
		sum := sha256.Sum256(body)
		if err := g.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), GatewayService, region, time.Now()); err != nil {
			return -1, fault.Usagef("DocDB gateway: signing %s: %w", op, err)
		}
	}
	resp, err := g.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("DocDB gateway %s: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("DocDB gateway %s: reading reply: %w", op, err)
	}
	if resp.StatusCode/100 != 2 {
		status, msg := resp.StatusCode, replyMessage(data)
		if strings.Contains(msg, "E11000") || strings.Contains(msg, "duplicate key") {
			status = http.StatusConflict // a gateway passing the driver's error on as 400/500
		}
		return status, &GatewayError{Status: status, Op: op, Message: msg}
	}
	if out == nil {
		return resp.StatusCode, nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return -1, fmt.Errorf("DocDB gateway %s: unexpected reply %.200q: %w", op, data, err)
	}
	return resp.StatusCode, nil
}

// replyMessage extracts {"message": ...} (or API Gateway's {"Message": ...}) from an error
// reply, else returns the body's start.
func replyMessage(data []byte) string {
	var m struct {
		Message  string `json:"message"`
		Message2 string `json:"Message"`
	}
	if json.Unmarshal(data, &m) == nil {
		if m.Message != "" {
			return m.Message
		}
		if m.Message2 != "" {
			return m.Message2
		}
	}
	s := strings.TrimSpace(string(data))
	if len(s) > 500 {
		s = s[:500] + "..."
	}
	return s
}

// extJSON encodes a filter, projection, sort, update or document as relaxed Extended JSON;
// nil is {}.
func extJSON(v any) ([]byte, error) {
	if d, ok := v.(bson.D); v == nil || (ok && d == nil) {
		return []byte("{}"), nil
	}
	if r, ok := v.(json.RawMessage); ok {
		return r, nil
	}
	b, err := bson.MarshalExtJSON(v, false, false)
	if err != nil {
		return nil, fault.Usagef("encoding %T as JSON: %w", v, err)
	}
	return b, nil
}

// rawFromJSON turns one JSON document into bson.Raw.
func rawFromJSON(data []byte) (bson.Raw, error) {
	var d bson.D
	if err := bson.UnmarshalExtJSON(data, false, &d); err != nil {
		return nil, err
	}
	return bson.Marshal(d)
}

// GatewayCollection is one collection reached through the gateway.
type GatewayCollection struct {
	g        *Gateway
	db, coll string
	upstream upstreamIndex
}

// Name returns "database.collection".
func (c *GatewayCollection) Name() string { return c.db + "." + c.coll }

func (c *GatewayCollection) path() string {
	return "/" + url.PathEscape(c.db) + "/" + url.PathEscape(c.coll)
}

// Count returns the collection's document count and how many match filter.
func (c *GatewayCollection) Count(ctx context.Context, filter any) (total, filtered int64, err error) {
	f, err := extJSON(filter)
	if err != nil {
		return 0, 0, err
	}
	var out struct {
		Total    int64 `json:"total_record_count"`
		Filtered int64 `json:"filtered_record_count"`
	}
	if err := c.g.call(ctx, http.MethodGet, c.path(), "count_documents", url.Values{"filter": {string(f)}}, nil, false, idempotent, &out); err != nil {
		return 0, 0, fmt.Errorf("counting %s: %w", c.Name(), err)
	}
	return out.Total, out.Filtered, nil
}

// Aggregate runs a read-only pipeline and calls fn for each result document.
func (c *GatewayCollection) Aggregate(ctx context.Context, pipeline []any, fn func(bson.Raw) error) error {
	parts := make([][]byte, len(pipeline))
	for i, st := range pipeline {
		b, err := extJSON(st)
		if err != nil {
			return err
		}
		parts[i] = b
	}
	body := append(append([]byte("["), bytes.Join(parts, []byte(","))...), ']')
	var docs []json.RawMessage
	if err := c.g.call(ctx, http.MethodPost, c.path(), "aggregate", nil, body, false, idempotent, &docs); err != nil {
		return fmt.Errorf("aggregating %s: %w", c.Name(), err)
	}
	for _, d := range docs {
		raw, err := rawFromJSON(d)
		if err != nil {
			return fault.Permanent(fmt.Errorf("reading %s: %w", c.Name(), err))
		}
		if err := fn(raw); err != nil {
			return err
		}
	}
	return nil
}

// gatewayExistingChunk is how many ids one Existing aggregate carries (~150 KB of body).
const gatewayExistingChunk = 2000

// Existing returns which of ids have a document: one aggregate ($match on _id, $project
// _id) per gatewayExistingChunk ids; then, for ids still missing, the records of the
// Python wrapper with that identity (see Collection.Existing).
func (c *GatewayCollection) Existing(ctx context.Context, ids []string) (map[string]bool, error) {
	found := make(map[string]bool)
	for start := 0; start < len(ids); start += gatewayExistingChunk {
		chunk := ids[start:min(start+gatewayExistingChunk, len(ids))]
		var match any = bson.D{{Key: "$in", Value: chunk}}
		if len(chunk) == 1 {
			match = chunk[0] // equality uses the _id index; FerretDB v1 scans for $in (see Collection.Existing)
		}
		pipeline := []any{
			bson.D{{Key: "$match", Value: bson.D{{Key: "_id", Value: match}}}},
			bson.D{{Key: "$project", Value: bson.D{{Key: "_id", Value: 1}}}},
		}
		err := c.Aggregate(ctx, pipeline, func(doc bson.Raw) error {
			if id, ok := doc.Lookup("_id").StringValueOK(); ok {
				found[id] = true
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("looking up %d ids: %w", len(chunk), err)
		}
	}
	if err := c.upstream.addUpstream(ctx, c, ids, found); err != nil {
		return nil, err
	}
	return found, nil
}

// UpdateResult is update_one's reply.
type UpdateResult struct {
	MatchedCount  int64 `json:"matched_count"`
	ModifiedCount int64 `json:"modified_count"`
	UpsertedID    any   `json:"upserted_id"`
}

// InsertOne inserts doc; a duplicate _id is a permanent *GatewayError with Status 409.
// It is not sent again after a failure that may hide its success (see resend), so a 409
// always means another document; InsertIfAbsent is the insert that is resent, since it
// recognises its own earlier success.
func (c *GatewayCollection) InsertOne(ctx context.Context, doc any) error {
	return c.insertOne(ctx, doc, onceOnly)
}

func (c *GatewayCollection) insertOne(ctx context.Context, doc any, r resend) error {
	body, err := extJSON(doc)
	if err != nil {
		return err
	}
	if err := c.g.call(ctx, http.MethodPost, c.path(), "insert_one", nil, body, true, r, nil); err != nil {
		return fmt.Errorf("inserting into %s: %w", c.Name(), err)
	}
	return nil
}

// UpdateOne applies update to the first document matching filter (upserting if asked).
func (c *GatewayCollection) UpdateOne(ctx context.Context, filter, update any, upsert bool) (UpdateResult, error) {
	f, err := extJSON(filter)
	if err != nil {
		return UpdateResult{}, err
	}
	u, err := extJSON(update)
	if err != nil {
		return UpdateResult{}, err
	}
	up := "False"
	if upsert {
		up = "True" // the upstream gateway's spelling
	}
	body := fmt.Appendf(nil, `{"filter":%s,"update":%s,"upsert":%q}`, f, u, up)
	var res UpdateResult
	if err := c.g.call(ctx, http.MethodPost, c.path(), "update_one", nil, body, true, idempotent, &res); err != nil {
		return res, fmt.Errorf("updating %s: %w", c.Name(), err)
	}
	return res, nil
}

// Delete deletes the first (many=false) or every document matching filter and returns
// how many went.
func (c *GatewayCollection) Delete(ctx context.Context, filter any, many bool) (int64, error) {
	f, err := extJSON(filter)
	if err != nil {
		return 0, err
	}
	op := "delete_one"
	if many {
		op = "delete_many"
	}
	var out struct {
		Deleted int64 `json:"deleted_count"`
	}
	if err := c.g.call(ctx, http.MethodDelete, c.path(), op, nil, fmt.Appendf(nil, `{"filter":%s}`, f), true, idempotent, &out); err != nil {
		return 0, fmt.Errorf("deleting from %s: %w", c.Name(), err)
	}
	return out.Deleted, nil
}

// BulkResult is bulk_write's reply (summed over chunks).
type BulkResult struct {
	InsertedCount int64 `json:"inserted_count"`
	MatchedCount  int64 `json:"matched_count"`
	ModifiedCount int64 `json:"modified_count"`
	DeletedCount  int64 `json:"deleted_count"`
	UpsertedCount int64 `json:"upserted_count"`
}

// BulkUpsert returns the bulk_write operation upserting doc ($set) at _id = id, in the
// gateway's spelling (pymongo's UpdateOne, upsert "True", as MetadataDbClient sends it).
func BulkUpsert(id string, doc any) (json.RawMessage, error) {
	set, err := setFields(id, doc)
	if err != nil {
		return nil, err
	}
	f, _ := extJSON(bson.D{{Key: "_id", Value: id}})
	u, err := extJSON(bson.D{{Key: "$set", Value: set}})
	if err != nil {
		return nil, err
	}
	return fmt.Appendf(nil, `{"UpdateOne":{"filter":%s,"update":%s,"upsert":"True"}}`, f, u), nil
}

// BulkWrite sends ops (each an encoded operation, see the package notes and BulkUpsert)
// in chunks whose body stays under Config.MaxPayload; a 413 splits a chunk in two.
func (c *GatewayCollection) BulkWrite(ctx context.Context, ops []json.RawMessage) (BulkResult, error) {
	var total BulkResult
	var send func(ops []json.RawMessage) error
	send = func(ops []json.RawMessage) error {
		parts := make([][]byte, len(ops))
		for i, op := range ops {
			parts[i] = op
		}
		body := append(append([]byte("["), bytes.Join(parts, []byte(","))...), ']')
		var res BulkResult
		err := c.g.call(ctx, http.MethodPost, c.path(), "bulk_write", nil, body, true, onceOnly, &res)
		var ge *GatewayError
		if errors.As(err, &ge) && ge.Status == http.StatusRequestEntityTooLarge && len(ops) > 1 {
			if err := send(ops[:len(ops)/2]); err != nil {
				return err
			}
			return send(ops[len(ops)/2:])
		}
		if err != nil {
			return err
		}
		total.InsertedCount += res.InsertedCount
		total.MatchedCount += res.MatchedCount
		total.ModifiedCount += res.ModifiedCount
		total.DeletedCount += res.DeletedCount
		total.UpsertedCount += res.UpsertedCount
		return nil
	}
	for start := 0; start < len(ops); {
		size, end := 2, start
		for end < len(ops) && (end == start || size+len(ops[end])+1 <= c.g.cfg.MaxPayload) {
			size += len(ops[end]) + 1
			end++
		}
		if err := send(ops[start:end]); err != nil {
			return total, fmt.Errorf("bulk writing to %s: %w", c.Name(), err)
		}
		start = end
	}
	return total, nil
}
