package docdb

import (
	"context"
	"time"
)

// ConnectionFlags say how to reach DocDB and where result records live; the dispatcher and the
// wrapper share them. DocDB is reached either directly with the Mongo driver (--docdb-uri)
// or through the AIND HTTP gateway (--docdb-host); exactly one must be given.
type ConnectionFlags struct {
	DocDBURI          string        `name:"docdb-uri" aliases:"docdb_uri" env:"DOCDB_URI" help:"MongoDB connection string of DocDB (password redacted in logs). Alternative to --docdb-host."`
	DocDBHost         string        `name:"docdb-host" aliases:"docdb_host" env:"DOCDB_HOST" help:"Host of the DocDB HTTP gateway (https unless a scheme is given; http only for loopback); writes are SigV4-signed with the standard AWS credentials. Alternative to --docdb-uri."`
	DocDBVersion      string        `name:"docdb-version" aliases:"docdb_version" env:"DOCDB_VERSION" default:"v1" help:"API version of the DocDB HTTP gateway."`
	DocDBTimeout      time.Duration `name:"docdb-timeout" aliases:"docdb_timeout" env:"DOCDB_TIMEOUT" default:"10s" help:"How long one attempt waits for DocDB to answer (3 attempts; 5 through the gateway, whose requests get at least 60s)."`
	DocDBTLSCAFile    string        `name:"docdb-tls-ca-file" aliases:"docdb_tls_ca_file" env:"DOCDB_TLS_CA_FILE" type:"path" help:"CA bundle for TLS to AWS DocumentDB (global-bundle.pem), or to a DocDB gateway behind a private CA."`
	ResultsDatabase   string        `name:"results-database" aliases:"results_database" env:"DOCDB_DATABASE" default:"analysis" help:"Database of the analysis result records."`
	ResultsCollection string        `name:"results-collection" aliases:"results_collection" env:"DOCDB_COLLECTION" help:"Collection of the analysis result records."`
}

// Configured reports whether a way to reach DocDB (URI or gateway host) is given.
func (f ConnectionFlags) Configured() bool { return f.DocDBURI != "" || f.DocDBHost != "" }

// Describe says where DocDB is, for logs: the URI with its password redacted, or the
// gateway host.
func (f ConnectionFlags) Describe() string {
	switch {
	case f.DocDBURI != "" && f.DocDBHost != "":
		return Redact(f.DocDBURI) + " and gateway " + f.DocDBHost
	case f.DocDBHost != "":
		return "gateway " + f.DocDBHost
	default:
		return Redact(f.DocDBURI)
	}
}

// Config returns the Config the flags describe.
func (f ConnectionFlags) Config() Config {
	c := Config{URI: f.DocDBURI, TLSCAFile: f.DocDBTLSCAFile, Host: f.DocDBHost, Version: f.DocDBVersion}
	if f.DocDBHost != "" {
		c.Timeout = max(f.DocDBTimeout, 60*time.Second) // one page or bulk write, not a ping
	} else {
		c.Timeout = f.DocDBTimeout
	}
	return c
}

// Connect opens DocDB: the Mongo driver for a URI, the HTTP gateway for a host; a usage
// error when neither or both are given.
func (f ConnectionFlags) Connect(ctx context.Context) (Backend, error) {
	return Open(ctx, f.Config())
}

// ClaimsCollection is the collection holding job claims for the results collection.
func (f ConnectionFlags) ClaimsCollection() string { return f.ResultsCollection + "_claims" }
