// Command seed fills a devstack (or any DocDB + S3 pair) with synthetic data for the
// dispatcher benchmarks in bench/dispatch.
//
// It inserts -records asset records into <db>.data_assets, shaped like the real
// metadata_index records the dispatcher selects:
//
//	{_id: "bench-000001", name: "bench-000001", location: "s3://<bucket>/bench-000001",
//	 subject: {subject_id: "..."}, created: "...", data_description: {project_name: "bench"}}
//
// and, for the first -assets-with-files of them, uploads -files small objects under each
// asset's prefix: three in four are nwb/file_NN.nwb, the rest do not match .nwb
// (logs/file_NN.txt, qc/file_NN.json), so that file discovery has to filter. With
// -files 20 an asset has 15 matches out of 20 keys.
//
// Connection settings come from the environment the devstack writes: DOCDB_URI,
// AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION.
//
// Re-running is safe: the bucket is created only if missing, records already present are
// left as they are (duplicate _id errors are ignored) and objects are overwritten.
//
// On success it prints one line: what was seeded, the number of matching keys and how
// long it took, e.g.
//
//	seeded db=benchdisc records=2000 (inserted 2000, existing 0) objects=40000 matches=30000 in 12.3s (docdb 0.4s, s3 11.9s)
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/sync/errgroup"
)

const (
	// collection receives the asset records (the dispatcher's default --asset-collection).
	collection = "data_assets"
	// insertBatch is the number of records per InsertMany.
	insertBatch = 1000
	// uploadConcurrency bounds the PutObject calls in flight.
	uploadConcurrency = 64
)

// settings are the command-line flags.
type settings struct {
	records    int
	withFiles  int
	files      int
	bucket     string
	db         string
	dropFirst  bool
	objectSize int
}

func main() {
	var s settings
	flag.IntVar(&s.records, "records", 2000, "number of asset records to insert")
	flag.IntVar(&s.withFiles, "assets-with-files", 0, "number of assets (the first ones) that get objects in S3")
	flag.IntVar(&s.files, "files", 20, "objects per asset with files (3 in 4 end in .nwb)")
	flag.StringVar(&s.bucket, "bucket", "aind-bench", "S3 bucket of the asset locations (created if missing)")
	flag.StringVar(&s.db, "db", "benchdisc", "database receiving the data_assets collection")
	flag.BoolVar(&s.dropFirst, "drop", false, "drop <db>.data_assets before inserting")
	flag.IntVar(&s.objectSize, "object-size", 64, "bytes per object")
	flag.Parse()
	if flag.NArg() > 0 || s.records < 0 || s.withFiles < 0 || s.files < 0 || s.withFiles > s.records || s.objectSize < 0 {
		fmt.Fprintln(os.Stderr, "seed: bad arguments (need 0 <= -assets-with-files <= -records, -files >= 0, no positional arguments)")
		flag.Usage()
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, s); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

// run seeds DocDB, then S3, and prints the summary line.
func run(ctx context.Context, s settings) error {
	start := time.Now()
	inserted, existing, err := seedDocDB(ctx, s)
	if err != nil {
		return err
	}
	docdbTook := time.Since(start)

	s3Start := time.Now()
	objects, matches, err := seedS3(ctx, s)
	if err != nil {
		return err
	}
	s3Took := time.Since(s3Start)

	fmt.Printf("seeded db=%s records=%d (inserted %d, existing %d) objects=%d matches=%d in %.1fs (docdb %.1fs, s3 %.1fs)\n",
		s.db, s.records, inserted, existing, objects, matches,
		time.Since(start).Seconds(), docdbTook.Seconds(), s3Took.Seconds())
	return nil
}

// assetID is the _id, name and S3 prefix of the i-th asset (0-based).
func assetID(i int) string { return fmt.Sprintf("bench-%06d", i+1) }

// record builds the i-th asset record.
func record(i int, bucket string) bson.D {
	id := assetID(i)
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	return bson.D{
		{Key: "_id", Value: id},
		{Key: "name", Value: id},
		{Key: "location", Value: "s3://" + bucket + "/" + id},
		{Key: "subject", Value: bson.D{{Key: "subject_id", Value: fmt.Sprintf("%06d", 700000+i%1000)}}},
		{Key: "created", Value: created.Format("2006-01-02T15:04:05.000000Z")},
		{Key: "data_description", Value: bson.D{{Key: "project_name", Value: "bench"}}},
	}
}

// seedDocDB inserts the records in batches of insertBatch and returns how many were
// inserted and how many were already there.
func seedDocDB(ctx context.Context, s settings) (inserted, existing int, err error) {
	uri := os.Getenv("DOCDB_URI")
	if uri == "" {
		return 0, 0, errors.New("DOCDB_URI is not set (source the devstack env file)")
	}
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(2 * time.Minute))
	if err != nil {
		return 0, 0, fmt.Errorf("connecting to DocDB: %w", err)
	}
	defer func() {
		if derr := client.Disconnect(context.Background()); derr != nil && err == nil {
			err = fmt.Errorf("disconnecting from DocDB: %w", derr)
		}
	}()
	coll := client.Database(s.db).Collection(collection)
	if s.dropFirst {
		if err := coll.Drop(ctx); err != nil {
			return 0, 0, fmt.Errorf("dropping %s.%s: %w", s.db, collection, err)
		}
	}

	for lo := 0; lo < s.records; lo += insertBatch {
		hi := min(lo+insertBatch, s.records)
		docs := make([]any, 0, hi-lo)
		for i := lo; i < hi; i++ {
			docs = append(docs, record(i, s.bucket))
		}
		res, err := coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
		n := 0
		if res != nil {
			n = len(res.InsertedIDs)
		}
		if err != nil {
			dups, ok := onlyDuplicates(err)
			if !ok {
				return inserted, existing, fmt.Errorf("inserting records %d..%d into %s.%s: %w", lo+1, hi, s.db, collection, err)
			}
			existing += dups
			n = hi - lo - dups
		}
		inserted += n
	}
	return inserted, existing, nil
}

// onlyDuplicates reports whether err is a bulk write error made of duplicate key errors
// only, and how many there were.
func onlyDuplicates(err error) (int, bool) {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return 0, false
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != 11000 {
			return 0, false
		}
	}
	return len(bwe.WriteErrors), true
}

// objectKey is the key of the j-th object (0-based) of an asset, relative to its prefix,
// and whether it ends in .nwb.
func objectKey(j int) (string, bool) {
	switch j % 4 {
	case 3:
		if j%8 == 3 {
			return fmt.Sprintf("logs/file_%02d.txt", j), false
		}
		return fmt.Sprintf("qc/file_%02d.json", j), false
	default:
		return fmt.Sprintf("nwb/file_%02d.nwb", j), true
	}
}

// seedS3 creates the bucket if missing and uploads the objects of the first
// s.withFiles assets, uploadConcurrency at a time. It returns the number of objects
// and of .nwb matches.
func seedS3(ctx context.Context, s settings) (objects, matches int, err error) {
	if s.withFiles == 0 || s.files == 0 {
		return 0, 0, nil
	}
	client, err := newS3(ctx)
	if err != nil {
		return 0, 0, err
	}
	if err := ensureBucket(ctx, client, s.bucket); err != nil {
		return 0, 0, err
	}

	body := []byte(strings.Repeat("x", s.objectSize))
	var done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(uploadConcurrency)
	for i := 0; i < s.withFiles; i++ {
		for j := 0; j < s.files; j++ {
			rel, match := objectKey(j)
			objects++
			if match {
				matches++
			}
			key := assetID(i) + "/" + rel
			g.Go(func() error {
				_, err := client.PutObject(gctx, &s3.PutObjectInput{
					Bucket:        aws.String(s.bucket),
					Key:           aws.String(key),
					Body:          bytes.NewReader(body),
					ContentLength: aws.Int64(int64(len(body))),
				})
				if err != nil {
					return fmt.Errorf("uploading s3://%s/%s: %w", s.bucket, key, err)
				}
				done.Add(1)
				return nil
			})
			if gctx.Err() != nil {
				break
			}
		}
	}
	if err := g.Wait(); err != nil {
		return int(done.Load()), 0, err
	}
	return objects, matches, nil
}

// newS3 builds an S3 client from the standard chain, path-style, with BaseEndpoint from
// AWS_ENDPOINT_URL_S3 and a connection pool sized for uploadConcurrency.
func newS3(ctx context.Context) (*s3.Client, error) {
	endpoint := os.Getenv("AWS_ENDPOINT_URL_S3")
	if endpoint == "" {
		return nil, errors.New("AWS_ENDPOINT_URL_S3 is not set (source the devstack env file)")
	}
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 2 * uploadConcurrency
		t.MaxIdleConnsPerHost = 2 * uploadConcurrency
	})
	cfg, err := config.LoadDefaultConfig(ctx, config.WithHTTPClient(httpClient))
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	}), nil
}

// ensureBucket creates bucket unless it already exists.
func ensureBucket(ctx context.Context, client *s3.Client, bucket string) error {
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err == nil {
		return nil
	}
	_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	var exists *types.BucketAlreadyExists
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		return fmt.Errorf("creating bucket %s: %w", bucket, err)
	}
	return nil
}
