// Command aind-devstack runs the project's local test stack: an embedded
// FerretDB (MongoDB wire protocol, SQLite storage) standing in for DocDB and a
// versitygw subprocess (S3 API, posix backend) standing in for S3.
//
// It prints the client environment to stdout as KEY=VALUE lines followed by
// DEVSTACK_READY=1, then blocks until SIGINT/SIGTERM (or stdin EOF with
// --stdin-close-stops) and shuts both servers down. Logs go to stderr.
//
// Usage from the repository root:
//
//	go -C devstack run . --seed ../testdata/devstack --env-file /tmp/devstack.env
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// Fixed devstack credentials and settings handed to clients.
const (
	// AccessKey is the versitygw root access key.
	AccessKey = "devstack"
	// SecretKey is the versitygw root secret key.
	SecretKey = "devstack-secret-key"
	// Region is the S3 region clients must use.
	Region = "us-east-1"
	// VersitygwVersion is the pinned versitygw release installed with go install.
	VersitygwVersion = "v1.8.0"
)

// CLI holds aind-devstack's command-line flags.
type CLI struct {
	Dir             string        `help:"Keep data in DIR (created if missing) instead of a temporary directory removed on shutdown." placeholder:"DIR" type:"path"`
	Seed            string        `help:"Seed from DIR: DIR/docdb/<database>/<collection>.json (JSON arrays) and DIR/s3/<bucket>/<key...> (files)." placeholder:"DIR" type:"existingdir"`
	Bucket          string        `help:"Analysis bucket to create (printed as ANALYSIS_BUCKET=s3://<name>)." default:"aind-analysis"`
	EnvFile         string        `help:"Also write the environment as 'export KEY=VALUE' lines to FILE (atomically; removed on shutdown)." placeholder:"FILE" type:"path"`
	StdinCloseStops bool          `help:"Also shut down when stdin reaches EOF (for test parents holding a pipe)."`
	Timeout         time.Duration `help:"How long to wait for both servers to answer (not counting the versitygw install)." default:"60s"`
	DocDBPort       int           `help:"FerretDB port on 127.0.0.1 (0 picks a free port)." default:"0" name:"docdb-port"`
	S3Port          int           `help:"versitygw port on 127.0.0.1 (0 picks a free port)." default:"0" name:"s3-port"`
	VersitygwBin    string        `help:"versitygw binary to run instead of the cached, patched build of ${vgw_version}." env:"VERSITYGW_BIN" placeholder:"PATH" name:"versitygw-bin"`
	CacheDir        string        `help:"Cache directory for the versitygw binary (default: <user cache dir>/aind-devstack)." env:"AIND_DEVSTACK_CACHE" placeholder:"DIR" type:"path"`
	InstallOnly     bool          `help:"Only make sure versitygw is installed in the cache, print its path and exit (warms CI caches)."`
	Wait            bool          `help:"Start nothing: wait (up to --timeout) until the devstack started with the same --env-file is ready, print its environment and exit 0; exit 1 if it is not ready in time. For scripts that start the devstack in the background: then 'source' the env file."`
	DocDBGateway    bool          `help:"Serve the DocDB HTTP gateway (printed as DOCDB_HOST=http://127.0.0.1:PORT and DOCDB_VERSION)." default:"true" negatable:"" name:"docdb-gateway"`
	DocDBClient     string        `help:"Which way to DocDB the printed environment selects (${enum}): mongo prints DOCDB_URI (and the gateway as DEVSTACK_DOCDB_HOST), gateway prints DOCDB_HOST and DOCDB_VERSION (and the URI as DEVSTACK_DOCDB_URI); clients refuse both." default:"mongo" enum:"mongo,gateway" env:"AIND_DEVSTACK_DOCDB" name:"docdb-client"`
	GatewayPort     int           `help:"DocDB gateway port on 127.0.0.1 (0 picks a free port)." default:"0" name:"docdb-gateway-port"`
	GatewayPageCap  int           `help:"Most documents one gateway find page returns." default:"100" name:"docdb-gateway-page-cap"`
	GatewayPayload  int           `help:"Largest gateway request or reply body in bytes (413 beyond)." default:"1048576" name:"docdb-gateway-max-payload"`
	GatewayFaults   bool          `help:"Test hook: answer requests carrying the X-Aind-Test-Fault: <status> header with that status." name:"docdb-gateway-test-faults"`
	CountRequests   bool          `help:"Count the S3, Mongo wire and gateway requests and connections clients make (through counting fronts on the S3 and DocDB ports) and serve the counts at DEVSTACK_REQUESTS_URL (GET; ?reset=1 or POST .../reset zeroes them). Off by default: the fronts cost CPU per request." env:"AIND_DEVSTACK_COUNT_REQUESTS" name:"count-requests"`
	RequestsPort    int           `help:"Port of the request counts endpoint on 127.0.0.1 with --count-requests (0 picks a free port)." default:"0" name:"requests-port"`
	LogLevel        string        `help:"Log level for aind-devstack's own logs (${enum})." default:"info" enum:"debug,info,warn,error"`
}

func main() {
	var cli CLI
	kctx := kong.Parse(&cli,
		kong.Name("aind-devstack"),
		kong.Description("Run FerretDB (DocDB stand-in) and versitygw (S3 stand-in) locally and print their client environment."),
		kong.UsageOnError(),
		kong.Vars{"vgw_version": VersitygwVersion},
	)

	log := newLogger(cli.LogLevel)

	// A closed stdout/stderr pipe (e.g. `| head`) must not kill us before cleanup:
	// with SIGPIPE notified, such writes just fail with EPIPE.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	if cli.StdinCloseStops {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			log.Info().Msg("stdin closed; shutting down")
			cancel()
		}()
	}

	if err := cli.run(ctx, log, os.Stdout); err != nil {
		log.Error().Err(err).Msg("aind-devstack failed")
		kctx.Exit(1)
	}
}

// newLogger returns a zerolog logger on stderr: console output on a TTY, JSON otherwise.
func newLogger(level string) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00"
	var w io.Writer = os.Stderr
	if isatty.IsTerminal(os.Stderr.Fd()) || isatty.IsCygwinTerminal(os.Stderr.Fd()) {
		w = zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05.000"}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

// run starts the stack, prints the environment to stdout and blocks until ctx is done.
func (c *CLI) run(ctx context.Context, log zerolog.Logger, stdout io.Writer) (err error) {
	cacheDir, err := c.cacheDir()
	if err != nil {
		return err
	}

	if c.Wait {
		return waitReady(ctx, c.EnvFile, c.Timeout, stdout)
	}
	if c.InstallOnly {
		bin, err := ensureVersitygw(ctx, log, c.VersitygwBin, cacheDir)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, bin)
		return err
	}

	if c.DocDBClient == "gateway" && !c.DocDBGateway {
		return errors.New("--docdb-client=gateway needs the gateway (drop --no-docdb-gateway)")
	}
	if err := validBucketName(c.Bucket); err != nil {
		return fmt.Errorf("--bucket: %w", err)
	}

	dataDir, removeDir, err := c.prepareDataDir()
	if err != nil {
		return err
	}
	defer func() {
		if !removeDir {
			return
		}
		if rmErr := os.RemoveAll(dataDir); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("remove temporary data dir %s: %w", dataDir, rmErr))
			return
		}
		log.Debug().Str("dir", dataDir).Msg("removed temporary data dir")
	}()
	log.Info().Str("dir", dataDir).Bool("temporary", removeDir).Msg("data dir")

	// The install may compile versitygw (minutes on a cold cache); it is not
	// covered by --timeout, only by ctx (signals).
	bin, err := ensureVersitygw(ctx, log, c.VersitygwBin, cacheDir)
	if err != nil {
		return err
	}

	st, err := startStack(ctx, log, stackConfig{
		dataDir:      dataDir,
		docdbPort:    c.DocDBPort,
		s3Port:       c.S3Port,
		versitygwBin: bin,
		timeout:      c.Timeout,
		docdbGateway: c.DocDBGateway,
		gateway: docdbGatewayConfig{
			port:       c.GatewayPort,
			version:    "v1",
			pageCap:    c.GatewayPageCap,
			maxPayload: c.GatewayPayload,
			testFaults: c.GatewayFaults,
		},
		countRequests: c.CountRequests,
		requestsPort:  c.RequestsPort,
	})
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := st.stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
	}()

	if err := st.createBucket(ctx, c.Bucket); err != nil {
		return err
	}
	if c.Seed != "" {
		started := time.Now()
		if err := seed(ctx, log, st, c.Seed); err != nil {
			return err
		}
		log.Info().Str("dir", c.Seed).Dur("took", time.Since(started)).Msg("seeded")
	}

	// The env file is written before stdout's DEVSTACK_READY=1 so a parent that
	// saw the ready line can source it right away.
	env := clientEnv(st, c.Bucket, dataDir, c.DocDBClient == "gateway")
	if c.EnvFile != "" {
		if err := writeEnvFile(c.EnvFile, env); err != nil {
			return err
		}
		defer func() {
			if rmErr := os.Remove(c.EnvFile); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
				err = errors.Join(err, fmt.Errorf("remove env file: %w", rmErr))
			}
		}()
		log.Info().Str("file", c.EnvFile).Msg("wrote env file")
	}
	if err := writeEnv(stdout, env); err != nil {
		return err
	}
	log.Info().Str("docdb", st.clientDocDBURI()).Str("s3", st.clientS3Endpoint()).Msg("devstack ready")

	select {
	case <-ctx.Done():
		log.Info().Msg("shutting down")
	case <-st.gatewayDone():
		return fmt.Errorf("versitygw exited unexpectedly: %w\n%s", st.gw.exitErr(), tailFile(st.gw.logPath, 20))
	}
	return nil
}

// cacheDir returns --cache-dir, $AIND_DEVSTACK_CACHE or <user cache dir>/aind-devstack.
func (c *CLI) cacheDir() (string, error) {
	if c.CacheDir != "" {
		return c.CacheDir, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find user cache dir (set AIND_DEVSTACK_CACHE): %w", err)
	}
	return filepath.Join(base, "aind-devstack"), nil
}

// prepareDataDir creates the data directory and reports whether it is temporary.
func (c *CLI) prepareDataDir() (dir string, temporary bool, err error) {
	if c.Dir != "" {
		if err := os.MkdirAll(c.Dir, 0o755); err != nil {
			return "", false, fmt.Errorf("create data dir: %w", err)
		}
		return c.Dir, false, nil
	}
	dir, err = os.MkdirTemp("", "aind-devstack-")
	if err != nil {
		return "", false, fmt.Errorf("create temporary data dir: %w", err)
	}
	return dir, true, nil
}
