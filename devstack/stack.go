package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ferretStopTimeout bounds how long shutdown waits for FerretDB to close its connections.
const ferretStopTimeout = 10 * time.Second

// stackConfig configures startStack.
type stackConfig struct {
	dataDir      string
	docdbPort    int // 0: any free port
	s3Port       int // 0: any free port
	versitygwBin string
	timeout      time.Duration // deadline for both servers to answer
	docdbGateway bool          // serve the DocDB HTTP gateway
	gateway      docdbGatewayConfig
	// countRequests puts counting fronts on docdbPort and s3Port (counting.go) and
	// serves the counts on requestsPort (0: any free port).
	countRequests bool
	requestsPort  int
}

// stack is a running FerretDB + versitygw pair with connected clients.
type stack struct {
	log zerolog.Logger

	ferretCancel context.CancelFunc
	ferretDone   chan struct{}
	indexDone    chan struct{} // the _id index keeper (idindex.go) has stopped
	docdbURI     string
	mongo        *mongo.Client

	gw         *gateway
	s3Endpoint string
	s3         *s3.Client

	docdbGW   *docdbGateway // nil unless enabled
	docdbHost string        // http://127.0.0.1:PORT

	// With --count-requests (else nil): clients reach FerretDB and versitygw through
	// the fronts; docdbURI and s3Endpoint stay the servers' own, for the devstack.
	counts    *requestCounts
	wireFront *wireFront
	s3Front   *s3Front
	countsSrv *countsServer
}

// startStack starts FerretDB in-process and versitygw as a child and waits until both answer.
// On error everything already started is stopped again.
func startStack(ctx context.Context, log zerolog.Logger, cfg stackConfig) (st *stack, err error) {
	st = &stack{log: log}
	defer func() {
		if err != nil {
			if stopErr := st.stop(); stopErr != nil {
				log.Warn().Err(stopErr).Msg("cleanup after failed start")
			}
			st = nil
		}
	}()

	if err := st.startFerret(cfg); err != nil {
		return st, err
	}
	if err := st.startGateway(cfg); err != nil {
		return st, err
	}

	waitCtx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	if err := st.waitMongo(waitCtx); err != nil {
		return st, fmt.Errorf("FerretDB (DocDB) at %s did not come up (waited up to %s): %w", st.docdbURI, cfg.timeout, err)
	}
	if err := st.waitS3(waitCtx, cfg); err != nil {
		return st, err
	}
	if cfg.countRequests {
		if err := st.startCounting(cfg); err != nil {
			return st, err
		}
	}
	if cfg.docdbGateway {
		gc := cfg.gateway
		gc.creds = aws.Credentials{AccessKeyID: AccessKey, SecretAccessKey: SecretKey}
		gc.region = Region
		gc.counts = st.counts
		if gc.pageCap <= 0 || gc.maxPayload <= 0 {
			return st, fmt.Errorf("DocDB gateway: page cap and payload limit must be positive")
		}
		gw, err := startDocDBGateway(log, st.mongo, gc)
		if err != nil {
			return st, err
		}
		st.docdbGW = gw
		st.docdbHost = "http://" + gw.addr
	}
	return st, nil
}

// startFerret starts the embedded FerretDB with the SQLite handler under <dataDir>/ferretdb/.
func (st *stack) startFerret(cfg stackConfig) error {
	dbDir := filepath.Join(cfg.dataDir, "ferretdb")
	if err := os.MkdirAll(dbDir, 0o755); err != nil {
		return fmt.Errorf("create FerretDB dir: %w", err)
	}

	// FerretDB logs through slog; keep it at warn level on stderr via zerolog.
	logger := slog.New(newSlogHandler(st.log.With().Str("component", "ferretdb").Logger(), slog.LevelWarn))
	slog.SetDefault(logger)

	port := cfg.docdbPort
	if cfg.countRequests {
		port = 0 // the wire front takes cfg.docdbPort
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{
			TCP: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + filepath.ToSlash(dbDir) + "/",
	})
	if err != nil {
		return fmt.Errorf("start FerretDB: %w", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	st.ferretCancel = cancel
	st.ferretDone = make(chan struct{})
	go func() {
		defer close(st.ferretDone)
		if err := f.Run(ctx); err != nil {
			st.log.Error().Err(err).Msg("FerretDB stopped with an error")
		}
	}()
	// FerretDB's lookups by _id scan their table unless the keeper indexes them (idindex.go).
	st.indexDone = make(chan struct{})
	go func() {
		defer close(st.indexDone)
		newIDIndexer(dbDir, st.log.With().Str("component", "ferretdb-index").Logger()).run(ctx)
	}()
	st.docdbURI = f.MongoDBURI()
	st.log.Info().Str("uri", st.docdbURI).Str("dir", dbDir).Msg("FerretDB started")

	client, err := mongo.Connect(options.Client().ApplyURI(st.docdbURI).SetAppName("aind-devstack"))
	if err != nil {
		return fmt.Errorf("create Mongo client for %s: %w", st.docdbURI, err)
	}
	st.mongo = client
	return nil
}

// startGateway starts versitygw on the chosen (or a free) port with its posix root under <dataDir>/s3.
func (st *stack) startGateway(cfg stackConfig) error {
	if st.gw != nil { // restart after an early exit: release the old one
		_ = st.gw.stop(versitygwStopGrace)
		st.gw = nil
	}
	port := cfg.s3Port
	if cfg.countRequests {
		port = 0 // the S3 front takes cfg.s3Port
	}
	if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return err
		}
	}
	gw, err := startGateway(st.log, gatewayConfig{
		bin:     cfg.versitygwBin,
		dataDir: cfg.dataDir,
		addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		// Behind the S3 front, versitygw keeps the front's connections open, so the
		// front does not pay a TCP connect per request; clients' connections end at
		// the front, which keeps them open as S3 does.
		keepAlive: cfg.countRequests,
	})
	if err != nil {
		return err
	}
	st.gw = gw
	st.s3Endpoint = "http://" + gw.addr
	st.s3 = newS3Client(st.s3Endpoint)
	return nil
}

// waitMongo pings FerretDB until it answers or ctx ends.
func (st *stack) waitMongo(ctx context.Context) error {
	return poll(ctx, func(ctx context.Context) error {
		return st.mongo.Ping(ctx, nil)
	})
}

// waitS3 calls ListBuckets until versitygw answers or ctx ends. If versitygw
// exits early because an automatically picked port was taken meanwhile, it is
// restarted on another free port a few times.
func (st *stack) waitS3(ctx context.Context, cfg stackConfig) error {
	const maxRestarts = 3
	for restarts := 0; ; restarts++ {
		err := poll(ctx, func(ctx context.Context) error {
			select {
			case <-st.gw.done:
				return errGatewayExited
			default:
			}
			_, err := st.s3.ListBuckets(ctx, &s3.ListBucketsInput{}, func(o *s3.Options) {
				o.RetryMaxAttempts = 1 // poll retries; fail fast while the port is still closed
			})
			return err
		})
		if err == nil {
			st.log.Info().Str("endpoint", st.s3Endpoint).Int("pid", st.gw.pid()).Msg("versitygw ready")
			return nil
		}
		lostPortRace := errors.Is(err, errGatewayExited) && strings.Contains(tailFile(st.gw.logPath, 20), "address already in use")
		if lostPortRace && (cfg.s3Port == 0 || cfg.countRequests) && restarts < maxRestarts && ctx.Err() == nil {
			st.log.Warn().Err(st.gw.exitErr()).Str("log", tailFile(st.gw.logPath, 5)).Msg("versitygw exited during startup; retrying on another port")
			if err := st.startGateway(cfg); err != nil {
				return err
			}
			continue
		}
		if errors.Is(err, errGatewayExited) {
			err = fmt.Errorf("%w (%v)", err, st.gw.exitErr())
		}
		return fmt.Errorf("versitygw (S3) at %s did not come up (waited up to %s): %w\nversitygw log %s (tail):\n%s",
			st.s3Endpoint, cfg.timeout, err, st.gw.logPath, tailFile(st.gw.logPath, 20))
	}
}

// errGatewayExited reports that the versitygw child exited.
var errGatewayExited = errors.New("versitygw exited")

// poll calls try every 100 ms (each attempt bounded to 2 s) until it succeeds,
// returns errGatewayExited, or ctx ends; then it returns the last error.
func poll(ctx context.Context, try func(context.Context) error) error {
	var last error
	for {
		attemptCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := try(attemptCtx)
		cancel()
		if err == nil || errors.Is(err, errGatewayExited) {
			return err
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// gatewayDone is closed when the versitygw child exits.
func (st *stack) gatewayDone() <-chan struct{} {
	return st.gw.done
}

// createBucket creates bucket unless it already exists.
func (st *stack) createBucket(ctx context.Context, bucket string) error {
	_, err := st.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	var exists *types.BucketAlreadyExists
	switch {
	case err == nil:
		st.log.Info().Str("bucket", bucket).Msg("created bucket")
		return nil
	case errors.As(err, &owned), errors.As(err, &exists):
		return nil
	default:
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
}

// stop stops versitygw (SIGTERM, SIGKILL after 5 s) and FerretDB. It is safe on a partially started stack.
func (st *stack) stop() error {
	var errs []error
	if st.docdbGW != nil {
		if err := st.docdbGW.stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop DocDB gateway: %w", err))
		}
		st.docdbGW = nil
	}
	if err := st.stopCounting(); err != nil {
		errs = append(errs, err)
	}
	if st.mongo != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := st.mongo.Disconnect(ctx); err != nil {
			errs = append(errs, fmt.Errorf("disconnect Mongo client: %w", err))
		}
		cancel()
		st.mongo = nil
	}
	if st.gw != nil {
		if err := st.gw.stop(versitygwStopGrace); err != nil {
			errs = append(errs, err)
		}
		st.gw = nil
	}
	if st.ferretCancel != nil {
		st.ferretCancel()
		select {
		case <-st.ferretDone:
			st.log.Info().Msg("FerretDB stopped")
		case <-time.After(ferretStopTimeout):
			errs = append(errs, fmt.Errorf("FerretDB did not stop within %s", ferretStopTimeout))
		}
		<-st.indexDone
		st.ferretCancel = nil
	}
	return errors.Join(errs...)
}

// newS3Client returns a path-style S3 client with the devstack's static credentials.
func newS3Client(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
		UsePathStyle: true,
	})
}

// freePort returns a currently free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// versitygwStopGrace is how long versitygw gets between SIGTERM and SIGKILL. Its graceful
// shutdown waits for open connections; on a loaded 2-core CI machine, with keep-alive on
// (--count-requests), it once took more than 5 s (TestCountRequests under the full suite).
const versitygwStopGrace = 15 * time.Second
