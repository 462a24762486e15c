package cli

import (
	"context"
	"time"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/docdb"
)

// DocDBFlags say how to reach DocDB and where result records live; the dispatcher and the
// wrapper share them.
type DocDBFlags struct {
	DocDBURI          string        `name:"docdb-uri" aliases:"docdb_uri" env:"DOCDB_URI" help:"MongoDB connection string of DocDB (password redacted in logs)."`
	DocDBTimeout      time.Duration `name:"docdb-timeout" aliases:"docdb_timeout" env:"DOCDB_TIMEOUT" default:"10s" help:"How long one attempt waits for DocDB to answer (3 attempts)."`
	DocDBTLSCAFile    string        `name:"docdb-tls-ca-file" aliases:"docdb_tls_ca_file" env:"DOCDB_TLS_CA_FILE" type:"path" help:"CA bundle for TLS to AWS DocumentDB (global-bundle.pem)."`
	ResultsDatabase   string        `name:"results-database" aliases:"results_database" env:"DOCDB_DATABASE" default:"analysis" help:"Database of the analysis result records."`
	ResultsCollection string        `name:"results-collection" aliases:"results_collection" env:"DOCDB_COLLECTION" help:"Collection of the analysis result records."`
}

// Connect opens the DocDB connection.
func (f DocDBFlags) Connect(ctx context.Context) (*docdb.Client, error) {
	return docdb.Connect(ctx, docdb.Options{URI: f.DocDBURI, TLSCAFile: f.DocDBTLSCAFile, ServerSelectionTimeout: f.DocDBTimeout})
}

// ClaimsCollection is the collection holding job claims for the results collection.
func (f DocDBFlags) ClaimsCollection() string { return f.ResultsCollection + "_claims" }
