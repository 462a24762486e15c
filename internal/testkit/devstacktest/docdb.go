package devstacktest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/docdb"
)

// DocDB backends selectable with $AIND_TEST_DOCDB.
const (
	BackendMongo   = "mongo"
	BackendGateway = "gateway"
)

// DocDBBackend returns the backend $AIND_TEST_DOCDB selects: "mongo" (default) or
// "gateway". Another value panics, so a typo cannot silently test the default.
func DocDBBackend() string {
	switch b := os.Getenv("AIND_TEST_DOCDB"); b {
	case "", BackendMongo:
		return BackendMongo
	case BackendGateway:
		return BackendGateway
	default:
		panic(fmt.Sprintf("AIND_TEST_DOCDB=%q: want mongo or gateway", b))
	}
}

// DocDBVars returns the environment a binary needs to reach DocDB through the chosen
// backend: DOCDB_URI for mongo; DOCDB_HOST and DOCDB_VERSION for gateway (the AWS_*
// signing keys are in Vars). The other backend's keys are present and empty, so a
// leftover in the ambient environment cannot make both set.
func (e *Env) DocDBVars() map[string]string {
	return e.docDBVars(DocDBBackend())
}

func (e *Env) docDBVars(backend string) map[string]string {
	if backend == BackendGateway {
		return map[string]string{"DOCDB_URI": "", "DOCDB_HOST": e.DocDBHost, "DOCDB_VERSION": e.DocDBVersion}
	}
	return map[string]string{"DOCDB_URI": e.DocDBURI, "DOCDB_HOST": "", "DOCDB_VERSION": ""}
}

// DocDBFlags returns the command-line flags reaching DocDB through the chosen backend:
// --docdb_uri=..., or --docdb_host=... --docdb_version=....
func (e *Env) DocDBFlags() []string {
	vars := e.DocDBVars()
	var flags []string
	for _, k := range []string{"DOCDB_URI", "DOCDB_HOST", "DOCDB_VERSION"} {
		if vars[k] != "" {
			flags = append(flags, "--"+strings.ToLower(k)+"="+vars[k])
		}
	}
	return flags
}

// DocDBConfig returns the docdb.Config of backend ("mongo" or "gateway"), with short
// retry backoffs for tests.
func (e *Env) DocDBConfig(backend string) docdb.Config {
	if backend == BackendGateway {
		return docdb.Config{Host: e.DocDBHost, Version: e.DocDBVersion, Region: e.Region, Backoff: 20 * time.Millisecond,
			Credentials: credentials.NewStaticCredentialsProvider(e.AccessKey, e.SecretKey, "")}
	}
	return docdb.Config{URI: e.DocDBURI, Backoff: 20 * time.Millisecond}
}

// OpenDocDB opens the backend $AIND_TEST_DOCDB selects, closed at test cleanup.
func (e *Env) OpenDocDB(t testing.TB) docdb.Backend {
	t.Helper()
	return e.OpenDocDBWith(t, e.DocDBConfig(DocDBBackend()))
}

// OpenDocDBWith opens the backend cfg selects, closed at test cleanup.
func (e *Env) OpenDocDBWith(t testing.TB, cfg docdb.Config) docdb.Backend {
	t.Helper()
	b, err := docdb.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("devstacktest: open DocDB: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := ctxTimeout()
		defer cancel()
		_ = b.Close(ctx)
	})
	return b
}
