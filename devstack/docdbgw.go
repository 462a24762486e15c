package main

// docdbgw.go is the devstack's DocDB HTTP gateway: a stand-in for the AIND gateway
// (aind-data-access-api) over the embedded FerretDB, so clients' paging, SigV4 signing
// and payload limits are exercised for real. Endpoints (documents are relaxed MongoDB
// Extended JSON both ways):
//
//	GET    /{version}/{db}/{coll}/find?filter=&projection=&sort=&limit=&skip=  -> [doc, ...]
//	       limit is capped at the page cap (0 or absent means the cap); a reply that would
//	       exceed the payload limit ends early (fewer documents; callers page on until an
//	       empty page), and only a single document over the limit is refused with 413.
//	GET    /{version}/{db}/{coll}?filter=&projection=&sort=&limit=&skip=  -> [doc, ...]
//	       no page cap (limit 0 is every document); a reply over the payload limit is a 413.
//	GET    .../count_documents?filter=   -> {"total_record_count": n, "filtered_record_count": n}
//	POST   .../aggregate  [stage, ...]   -> [doc, ...]  ($out and $merge refused: read-only)
//	POST   .../insert_one doc            -> {"inserted_id": id}; duplicate _id -> 409
//	POST   .../update_one {"filter", "update", "upsert": "True"|"False"|bool}
//	                                     -> {"matched_count", "modified_count", "upserted_id"}
//	POST   .../bulk_write [{"InsertOne": {"document"}} | {"UpdateOne": {"filter", "update", "upsert"}}
//	                       | {"DeleteOne": {"filter"}} | {"DeleteMany": {"filter"}}, ...]
//	                       (pymongo's operation names: MetadataDbClient sends {"UpdateOne": ...})
//	                                     -> {"inserted_count", "matched_count", "modified_count", "deleted_count", "upserted_count"}
//	DELETE .../delete_one, .../delete_many {"filter"} -> {"deleted_count": n}
//
// Writes must carry a valid AWS SigV4 signature (service execute-api, the devstack's
// region and keys): missing or wrong signatures get 403. Request bodies over the payload
// limit get 413. Errors are {"message": "..."}: 400 for what Mongo refuses (its message),
// 404 unknown op, 409 duplicate key, 503 when FerretDB does not answer.
//
// Test hook (only with --docdb-gateway-test-faults): a request carrying the header
// X-Aind-Test-Fault: <status> is answered with that status and an "injected fault"
// message instead of being served.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TestFaultHeader makes the gateway answer with the status it names (test hook, only
// with --docdb-gateway-test-faults).
const TestFaultHeader = "X-Aind-Test-Fault"

// docdbGatewayConfig configures the gateway.
type docdbGatewayConfig struct {
	port       int // 0: any free port
	version    string
	pageCap    int
	maxPayload int
	testFaults bool
	creds      aws.Credentials
	region     string
	counts     *requestCounts // nil: not counting (--count-requests off)
}

// docdbGateway is the running HTTP gateway.
type docdbGateway struct {
	cfg    docdbGatewayConfig
	mongo  *mongo.Client
	log    zerolog.Logger
	srv    *http.Server
	addr   string
	signer *v4.Signer
}

// startDocDBGateway listens on 127.0.0.1 and serves the gateway over client.
func startDocDBGateway(log zerolog.Logger, client *mongo.Client, cfg docdbGatewayConfig) (*docdbGateway, error) {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.port)))
	if err != nil {
		return nil, fmt.Errorf("DocDB gateway: listen: %w", err)
	}
	g := &docdbGateway{cfg: cfg, mongo: client, log: log.With().Str("component", "docdb-gateway").Logger(), addr: l.Addr().String(), signer: v4.NewSigner()}
	g.srv = &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	if cfg.counts != nil {
		g.srv.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				cfg.counts.gatewayConn()
			}
		}
	}
	go func() {
		if err := g.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.log.Error().Err(err).Msg("DocDB gateway stopped")
		}
	}()
	g.log.Info().Str("addr", g.addr).Int("page_cap", cfg.pageCap).Int("max_payload", cfg.maxPayload).Bool("test_faults", cfg.testFaults).Msg("DocDB gateway started")
	return g, nil
}

// stop shuts the server down.
func (g *docdbGateway) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return g.srv.Shutdown(ctx)
}

// gwError is an error reply.
type gwError struct {
	status int
	msg    string
}

func (e *gwError) Error() string { return e.msg }

func gwErrorf(status int, format string, a ...any) error {
	return &gwError{status, fmt.Sprintf(format, a...)}
}

var writeOps = map[string]string{
	"insert_one": http.MethodPost, "update_one": http.MethodPost, "bulk_write": http.MethodPost,
	"delete_one": http.MethodDelete, "delete_many": http.MethodDelete,
}

var readOps = map[string]string{
	"": http.MethodGet, "find": http.MethodGet, "count_documents": http.MethodGet, "aggregate": http.MethodPost,
}

// ServeHTTP routes /{version}/{db}/{coll}/{op}.
func (g *docdbGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	started := time.Now()
	status, out, err := g.serve(r)
	if err != nil {
		var ge *gwError
		if !errors.As(err, &ge) {
			ge = &gwError{http.StatusInternalServerError, err.Error()}
		}
		status = ge.status
		out, _ = bson.MarshalExtJSON(bson.D{{Key: "message", Value: ge.msg}}, false, false)
	}
	if g.cfg.counts != nil { // before the reply, so a client that has it sees it counted
		g.cfg.counts.gatewayRequest(gatewayEndpoint(r.URL.Path), status)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(out)
	g.log.Debug().Str("method", r.Method).Str("path", r.URL.Path).Int("status", status).Dur("took", time.Since(started)).Msg("request")
}

// gatewayEndpoint names the endpoint of a request path for the request counts: the op
// ("find", "insert_one", ...), "records" for the collection's own URL, "other" for a path
// that names no endpoint.
func gatewayEndpoint(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) == 3:
		return "records"
	case len(parts) != 4:
		return "other"
	}
	op := parts[3]
	if _, ok := writeOps[op]; ok {
		return op
	}
	if _, ok := readOps[op]; ok && op != "" {
		return op
	}
	return "other"
}

func (g *docdbGateway) serve(r *http.Request) (int, []byte, error) {
	if g.cfg.testFaults {
		if f := r.Header.Get(TestFaultHeader); f != "" {
			code, err := strconv.Atoi(f)
			if err != nil || code < 400 || code > 599 {
				return 0, nil, gwErrorf(http.StatusBadRequest, "%s: want an error status, got %q", TestFaultHeader, f)
			}
			return 0, nil, gwErrorf(code, "injected fault %d (%s)", code, TestFaultHeader)
		}
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) == 3 {
		parts = append(parts, "") // the collection's own URL: GET lists records
	}
	if len(parts) != 4 || parts[0] != g.cfg.version || parts[1] == "" || parts[2] == "" {
		return 0, nil, gwErrorf(http.StatusNotFound, "path %s: want /%s/{database}/{collection}/{op}", r.URL.Path, g.cfg.version)
	}
	db, collName, op := parts[1], parts[2], parts[3]
	method, write := writeOps[op]
	if !write {
		var ok bool
		if method, ok = readOps[op]; !ok {
			return 0, nil, gwErrorf(http.StatusNotFound, "unknown operation %q", op)
		}
	}
	if r.Method != method {
		return 0, nil, gwErrorf(http.StatusMethodNotAllowed, "%s wants %s, got %s", op, method, r.Method)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(g.cfg.maxPayload)+1))
	if err != nil {
		return 0, nil, gwErrorf(http.StatusBadRequest, "reading body: %v", err)
	}
	if len(body) > g.cfg.maxPayload {
		return 0, nil, gwErrorf(http.StatusRequestEntityTooLarge, "request body exceeds the payload limit of %d bytes", g.cfg.maxPayload)
	}
	if write {
		if err := g.verify(r, body); err != nil {
			return 0, nil, gwErrorf(http.StatusForbidden, "%v", err)
		}
	}
	coll := g.mongo.Database(db).Collection(collName)
	ctx := r.Context()
	var out bson.D
	switch op {
	case "find", "":
		return g.find(ctx, coll, r, op == "")
	case "count_documents":
		filter, err := queryDoc(r, "filter")
		if err != nil {
			return 0, nil, err
		}
		total, err := coll.CountDocuments(ctx, bson.D{})
		if err != nil {
			return 0, nil, mongoErr(err)
		}
		filtered, err := coll.CountDocuments(ctx, filter)
		if err != nil {
			return 0, nil, mongoErr(err)
		}
		out = bson.D{{Key: "total_record_count", Value: total}, {Key: "filtered_record_count", Value: filtered}}
	case "aggregate":
		return g.aggregate(ctx, coll, body)
	case "insert_one":
		var doc bson.D
		if err := bson.UnmarshalExtJSON(body, false, &doc); err != nil {
			return 0, nil, gwErrorf(http.StatusBadRequest, "body: %v", err)
		}
		res, err := coll.InsertOne(ctx, doc)
		if err != nil {
			return 0, nil, mongoErr(err)
		}
		out = bson.D{{Key: "inserted_id", Value: res.InsertedID}}
	case "update_one":
		var req struct {
			Filter bson.D `bson:"filter"`
			Update bson.D `bson:"update"`
			Upsert any    `bson:"upsert"`
		}
		if err := bson.UnmarshalExtJSON(body, false, &req); err != nil {
			return 0, nil, gwErrorf(http.StatusBadRequest, "body: %v", err)
		}
		upsert, err := truth(req.Upsert)
		if err != nil {
			return 0, nil, err
		}
		res, err := coll.UpdateOne(ctx, req.Filter, req.Update, options.UpdateOne().SetUpsert(upsert))
		if err != nil {
			return 0, nil, mongoErr(err)
		}
		out = bson.D{{Key: "matched_count", Value: res.MatchedCount}, {Key: "modified_count", Value: res.ModifiedCount}, {Key: "upserted_id", Value: res.UpsertedID}}
	case "bulk_write":
		return g.bulkWrite(ctx, coll, body)
	case "delete_one", "delete_many":
		var req struct {
			Filter bson.D `bson:"filter"`
		}
		if err := bson.UnmarshalExtJSON(body, false, &req); err != nil {
			return 0, nil, gwErrorf(http.StatusBadRequest, "body: %v", err)
		}
		var res *mongo.DeleteResult
		if op == "delete_one" {
			res, err = coll.DeleteOne(ctx, req.Filter)
		} else {
			res, err = coll.DeleteMany(ctx, req.Filter)
		}
		if err != nil {
			return 0, nil, mongoErr(err)
		}
		out = bson.D{{Key: "deleted_count", Value: res.DeletedCount}}
	}
	b, err := bson.MarshalExtJSON(out, false, false)
	return http.StatusOK, b, err
}

// truth reads upsert: the upstream's "True"/"False" strings, or a JSON boolean.
func truth(v any) (bool, error) {
	switch t := v.(type) {
	case nil:
		return false, nil
	case bool:
		return t, nil
	case string:
		switch strings.ToLower(t) {
		case "true":
			return true, nil
		case "false", "":
			return false, nil
		}
	}
	return false, gwErrorf(http.StatusBadRequest, "upsert: want \"True\", \"False\" or a boolean, got %v", v)
}

// queryDoc parses the Extended JSON query parameter name ({} when absent).
func queryDoc(r *http.Request, name string) (bson.D, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return bson.D{}, nil
	}
	var d bson.D
	if err := bson.UnmarshalExtJSON([]byte(s), false, &d); err != nil {
		return nil, gwErrorf(http.StatusBadRequest, "%s: invalid JSON: %v", name, err)
	}
	return d, nil
}

func queryInt(r *http.Request, name string) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, gwErrorf(http.StatusBadRequest, "%s: want a non-negative integer, got %q", name, s)
	}
	return n, nil
}

// find serves find (paged: limit capped at the page cap, a reply truncated to the payload
// limit) and, when all is set, the collection's own URL (limit 0 is every document, and a
// reply over the payload limit is a 413), as MetadataDbClient's _find_records and
// _get_records expect.
func (g *docdbGateway) find(ctx context.Context, coll *mongo.Collection, r *http.Request, all bool) (int, []byte, error) {
	fo := options.Find()
	filter, err := queryDoc(r, "filter")
	if err != nil {
		return 0, nil, err
	}
	if p, err := queryDoc(r, "projection"); err != nil {
		return 0, nil, err
	} else if len(p) > 0 {
		fo.SetProjection(p)
	}
	if s, err := queryDoc(r, "sort"); err != nil {
		return 0, nil, err
	} else if len(s) > 0 {
		fo.SetSort(s)
	}
	limit, err := queryInt(r, "limit")
	if err != nil {
		return 0, nil, err
	}
	skip, err := queryInt(r, "skip")
	if err != nil {
		return 0, nil, err
	}
	if !all && (limit == 0 || limit > int64(g.cfg.pageCap)) {
		limit = int64(g.cfg.pageCap)
	}
	fo.SetLimit(limit).SetSkip(skip)
	cur, err := coll.Find(ctx, filter, fo)
	if err != nil {
		return 0, nil, mongoErr(err)
	}
	return g.docs(ctx, cur, !all)
}

// docs writes a cursor's documents as a JSON array. A reply over the payload limit is
// refused with 413, unless truncate: then it ends before the document that would cross the
// limit (the gateway's find returns fewer records than asked, and its callers page on with
// skip or a key), and only a first document over the limit on its own is refused.
func (g *docdbGateway) docs(ctx context.Context, cur *mongo.Cursor, truncate bool) (int, []byte, error) {
	defer cur.Close(context.WithoutCancel(ctx))
	out := []byte{'['}
	for cur.Next(ctx) {
		b, err := bson.MarshalExtJSON(cur.Current, false, false)
		if err != nil {
			return 0, nil, err
		}
		if len(out)+1+len(b)+1 > g.cfg.maxPayload {
			if truncate && len(out) > 1 {
				break
			}
			return 0, nil, gwErrorf(http.StatusRequestEntityTooLarge, "reply exceeds the payload limit of %d bytes: ask for fewer documents (limit)", g.cfg.maxPayload)
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, b...)
	}
	if err := cur.Err(); err != nil {
		return 0, nil, mongoErr(err)
	}
	return http.StatusOK, append(out, ']'), nil
}

func (g *docdbGateway) aggregate(ctx context.Context, coll *mongo.Collection, body []byte) (int, []byte, error) {
	var req struct {
		Pipeline []bson.D `bson:"pipeline"`
	}
	if err := bson.UnmarshalExtJSON(append(append([]byte(`{"pipeline":`), body...), '}'), false, &req); err != nil {
		return 0, nil, gwErrorf(http.StatusBadRequest, "body: want a pipeline array: %v", err)
	}
	for _, st := range req.Pipeline {
		for _, e := range st {
			if e.Key == "$out" || e.Key == "$merge" {
				return 0, nil, gwErrorf(http.StatusBadRequest, "aggregate is read-only: %s refused", e.Key)
			}
		}
	}
	cur, err := coll.Aggregate(ctx, req.Pipeline)
	if err != nil {
		return 0, nil, mongoErr(err)
	}
	return g.docs(ctx, cur, false)
}

func (g *docdbGateway) bulkWrite(ctx context.Context, coll *mongo.Collection, body []byte) (int, []byte, error) {
	type filterUpdate struct {
		Filter   bson.D `bson:"filter"`
		Update   bson.D `bson:"update"`
		Upsert   any    `bson:"upsert"`
		Document bson.D `bson:"document"`
	}
	var req struct {
		Ops []map[string]filterUpdate `bson:"ops"`
	}
	if err := bson.UnmarshalExtJSON(append(append([]byte(`{"ops":`), body...), '}'), false, &req); err != nil {
		return 0, nil, gwErrorf(http.StatusBadRequest, "body: want an array of operations: %v", err)
	}
	var models []mongo.WriteModel
	for i, op := range req.Ops {
		if len(op) != 1 {
			return 0, nil, gwErrorf(http.StatusBadRequest, "operation %d: want exactly one of InsertOne, UpdateOne, DeleteOne, DeleteMany", i)
		}
		for kind, a := range op {
			switch kind {
			case "InsertOne":
				models = append(models, mongo.NewInsertOneModel().SetDocument(a.Document))
			case "UpdateOne":
				up, err := truth(a.Upsert)
				if err != nil {
					return 0, nil, err
				}
				models = append(models, mongo.NewUpdateOneModel().SetFilter(a.Filter).SetUpdate(a.Update).SetUpsert(up))
			case "DeleteOne":
				models = append(models, mongo.NewDeleteOneModel().SetFilter(a.Filter))
			case "DeleteMany":
				models = append(models, mongo.NewDeleteManyModel().SetFilter(a.Filter))
			default:
				return 0, nil, gwErrorf(http.StatusBadRequest, "operation %d: unknown kind %q: want InsertOne, UpdateOne, DeleteOne or DeleteMany (pymongo's names, as MetadataDbClient sends them)", i, kind)
			}
		}
	}
	if len(models) == 0 {
		return 0, nil, gwErrorf(http.StatusBadRequest, "bulk_write: no operations")
	}
	res, err := coll.BulkWrite(ctx, models)
	if err != nil {
		return 0, nil, mongoErr(err)
	}
	out := bson.D{{Key: "inserted_count", Value: res.InsertedCount}, {Key: "matched_count", Value: res.MatchedCount},
		{Key: "modified_count", Value: res.ModifiedCount}, {Key: "deleted_count", Value: res.DeletedCount}, {Key: "upserted_count", Value: res.UpsertedCount}}
	b, err := bson.MarshalExtJSON(out, false, false)
	return http.StatusOK, b, err
}

// mongoErr maps a driver error to a reply: duplicate key 409, unreachable 503, other
// server refusals 400 with the server's message.
func mongoErr(err error) error {
	switch {
	case mongo.IsDuplicateKeyError(err):
		return gwErrorf(http.StatusConflict, "duplicate key: %v", err)
	case mongo.IsNetworkError(err) || mongo.IsTimeout(err) || errors.Is(err, context.DeadlineExceeded):
		return gwErrorf(http.StatusServiceUnavailable, "DocDB unavailable: %v", err)
	}
	var se mongo.ServerError
	if errors.As(err, &se) {
		return gwErrorf(http.StatusBadRequest, "%v", err)
	}
	return gwErrorf(http.StatusInternalServerError, "%v", err)
}

// verify checks r's SigV4 signature (service execute-api) against the devstack's keys by
// signing the same request (only the headers it says it signed) and comparing.
func (g *docdbGateway) verify(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return errors.New("missing Authorization: writes must be signed with AWS SigV4 (service execute-api)")
	}
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return errors.New("Authorization: want AWS4-HMAC-SHA256")
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[0] != g.cfg.creds.AccessKeyID {
		return errors.New("signature: unknown access key")
	}
	if scope[2] != g.cfg.region || scope[3] != "execute-api" {
		return fmt.Errorf("signature: credential scope %s/%s, want %s/execute-api", scope[2], scope[3], g.cfg.region)
	}
	signedAt, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return errors.New("signature: missing or bad X-Amz-Date")
	}
	if d := time.Since(signedAt); d > 15*time.Minute || d < -15*time.Minute {
		return errors.New("signature: request time too far from now")
	}
	check, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return err
	}
	check.Host = r.Host
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		switch h {
		case "host":
		case "content-length":
			check.ContentLength = r.ContentLength
		default:
			check.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	if err := g.signer.SignHTTP(r.Context(), g.cfg.creds, check, hex.EncodeToString(sum[:]), "execute-api", g.cfg.region, signedAt); err != nil {
		return err
	}
	if !hmac.Equal([]byte(check.Header.Get("Authorization")), []byte(auth)) {
		return errors.New("signature does not match (wrong secret key, or the request was changed after signing)")
	}
	return nil
}
