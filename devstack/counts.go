package main

// counts.go holds the request counters of --count-requests and the loopback HTTP endpoint
// that serves them (DEVSTACK_REQUESTS_URL):
//
//	GET  /requests          -> the counts since the start or the last reset (countsSnapshot)
//	GET  /requests?reset=1  -> the same, and zeroes them in the same step
//	POST /requests/reset    -> the same as ?reset=1
//
// The counts are taken where the devstack's clients arrive: the S3 front (s3front.go), the
// Mongo wire front (wirefront.go) and the DocDB gateway (docdbgw.go). A request is counted
// before its response is sent, so a client that has its responses reads counts that
// include them. Requests the devstack makes itself (seeding, creating the bucket, the
// gateway's own queries to FerretDB) go straight to the servers and are not counted.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// httpKind is one kind of HTTP request: what was asked (an S3 operation, a gateway
// endpoint) and the class of the status answered (2 for 2xx, ..., 5 for 5xx).
type httpKind struct {
	name  string
	class int
}

// requestCounts counts the requests and connections the devstack's fronts serve. It is
// safe for concurrent use; one mutex guards everything so a reset is one step.
type requestCounts struct {
	mu    sync.Mutex
	since time.Time

	s3Conns    int64
	s3         map[httpKind]int64
	wireConns  int64
	commands   map[string]int64 // Mongo commands by name, heartbeats excluded
	heartbeats map[string]int64 // hello, isMaster, ismaster, ping
	gwConns    int64
	gateway    map[httpKind]int64
}

// newRequestCounts returns zeroed counters.
func newRequestCounts() *requestCounts {
	c := &requestCounts{}
	c.zero()
	return c
}

// zero clears every count; c.mu is held or c is not shared yet.
func (c *requestCounts) zero() {
	c.since = time.Now().UTC()
	c.s3Conns, c.wireConns, c.gwConns = 0, 0, 0
	c.s3 = map[httpKind]int64{}
	c.commands = map[string]int64{}
	c.heartbeats = map[string]int64{}
	c.gateway = map[httpKind]int64{}
}

// s3Conn counts an accepted S3 connection.
func (c *requestCounts) s3Conn() {
	c.mu.Lock()
	c.s3Conns++
	c.mu.Unlock()
}

// s3Request counts an S3 request of operation op answered with status.
func (c *requestCounts) s3Request(op string, status int) {
	c.mu.Lock()
	c.s3[httpKind{op, status / 100}]++
	c.mu.Unlock()
}

// wireConn counts an accepted Mongo wire connection.
func (c *requestCounts) wireConn() {
	c.mu.Lock()
	c.wireConns++
	c.mu.Unlock()
}

// heartbeatCommands are the commands drivers send to learn about the server (the
// handshake on each new connection and the monitor's periodic check) and "ping"; they are
// counted apart from the commands that do work.
var heartbeatCommands = map[string]bool{"hello": true, "isMaster": true, "ismaster": true, "ping": true}

// wireCommand counts a Mongo command by name.
func (c *requestCounts) wireCommand(name string) {
	c.mu.Lock()
	if heartbeatCommands[name] {
		c.heartbeats[name]++
	} else {
		c.commands[name]++
	}
	c.mu.Unlock()
}

// gatewayConn counts an accepted DocDB gateway connection.
func (c *requestCounts) gatewayConn() {
	c.mu.Lock()
	c.gwConns++
	c.mu.Unlock()
}

// gatewayRequest counts a gateway request to endpoint answered with status.
func (c *requestCounts) gatewayRequest(endpoint string, status int) {
	c.mu.Lock()
	c.gateway[httpKind{endpoint, status / 100}]++
	c.mu.Unlock()
}

// countsSnapshot is the JSON the endpoint answers. Every map is present (empty when
// nothing was counted) and sums to the server's requests.
type countsSnapshot struct {
	// Since is when counting started or was last reset (UTC, RFC 3339).
	Since time.Time `json:"since"`
	// S3 requests are keyed "<operation> <status class>", e.g. "PutObject 2xx",
	// "GetObject 4xx"; the operation names are the S3 API's (s3Operation).
	S3 httpSnapshot `json:"s3"`
	// DocDB is the Mongo wire protocol: commands by name ("insert", "find", ...), with
	// the drivers' heartbeats apart.
	DocDB wireSnapshot `json:"docdb"`
	// Gateway requests are keyed "<endpoint> <status class>", e.g. "find 2xx" (gatewayEndpoint).
	Gateway httpSnapshot `json:"docdb_gateway"`
}

// httpSnapshot is one HTTP server's counts.
type httpSnapshot struct {
	Connections int64            `json:"connections"` // TCP connections accepted
	Requests    map[string]int64 `json:"requests"`
}

// wireSnapshot is the Mongo wire front's counts.
type wireSnapshot struct {
	Connections int64            `json:"connections"` // TCP connections accepted
	Commands    map[string]int64 `json:"commands"`    // by command name, heartbeats excluded
	Heartbeats  map[string]int64 `json:"heartbeats"`  // hello, isMaster, ismaster, ping
}

// snapshot returns the counts and, with reset, zeroes them in the same step.
func (c *requestCounts) snapshot(reset bool) countsSnapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := countsSnapshot{
		Since:   c.since,
		S3:      httpSnapshot{Connections: c.s3Conns, Requests: kindCounts(c.s3)},
		DocDB:   wireSnapshot{Connections: c.wireConns, Commands: copyCounts(c.commands), Heartbeats: copyCounts(c.heartbeats)},
		Gateway: httpSnapshot{Connections: c.gwConns, Requests: kindCounts(c.gateway)},
	}
	if reset {
		c.zero()
	}
	return s
}

// kindCounts renders httpKind keys as "<name> <class>xx".
func kindCounts(m map[httpKind]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, n := range m {
		out[k.name+" "+strconv.Itoa(k.class)+"xx"] = n
	}
	return out
}

// copyCounts copies m.
func copyCounts(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, n := range m {
		out[k] = n
	}
	return out
}

// countsServer serves the counts on 127.0.0.1.
type countsServer struct {
	srv *http.Server
	url string // http://127.0.0.1:PORT/requests
}

// startCountsServer listens on 127.0.0.1:port (0: a free port) and serves c.
func startCountsServer(log zerolog.Logger, c *requestCounts, port int) (*countsServer, error) {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("request counts endpoint: listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/requests", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "GET /requests reads the counts (?reset=1 also zeroes them)", http.StatusMethodNotAllowed)
			return
		}
		reset := false
		if v := r.URL.Query().Get("reset"); v != "" {
			var err error
			if reset, err = strconv.ParseBool(v); err != nil {
				http.Error(w, fmt.Sprintf("reset=%q: want 1 or 0", v), http.StatusBadRequest)
				return
			}
		}
		writeCounts(w, c.snapshot(reset))
	})
	mux.HandleFunc("/requests/reset", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "POST /requests/reset zeroes the counts", http.StatusMethodNotAllowed)
			return
		}
		writeCounts(w, c.snapshot(true))
	})
	s := &countsServer{
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		url: "http://" + l.Addr().String() + "/requests",
	}
	go func() {
		if err := s.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("request counts endpoint stopped")
		}
	}()
	log.Info().Str("url", s.url).Msg("counting requests")
	return s, nil
}

// writeCounts answers s as indented JSON.
func writeCounts(w http.ResponseWriter, s countsSnapshot) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil { // cannot happen: the snapshot is maps of strings to integers
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n'))
}

// stop shuts the endpoint down.
func (s *countsServer) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}
