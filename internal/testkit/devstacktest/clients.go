package devstacktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Setenv sets every Vars entry with t.Setenv (so code reading AWS_* / DOCDB_* from the
// environment finds the devstack), with the DocDB keys of the backend $AIND_TEST_DOCDB
// selects (see DocDBVars): DOCDB_URI or DOCDB_HOST, never both.
func (e *Env) Setenv(t testing.TB) {
	t.Helper()
	vars := make(map[string]string, len(e.Vars))
	for k, v := range e.Vars {
		vars[k] = v
	}
	for k, v := range e.DocDBVars() {
		vars[k] = v
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		t.Setenv(k, vars[k])
	}
}

// Mongo returns a connected *mongo.Client (v2 driver) closed at test cleanup.
func (e *Env) Mongo(t testing.TB) *mongo.Client {
	t.Helper()
	client, err := e.connect()
	if err != nil {
		t.Fatalf("devstacktest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := ctxTimeout()
		defer cancel()
		if err := client.Disconnect(ctx); err != nil {
			t.Logf("devstacktest: disconnect Mongo client: %v", err)
		}
	})
	return client
}

// connect returns a Mongo client for the devstack that has answered a ping.
func (e *Env) connect() (*mongo.Client, error) {
	client, err := mongo.Connect(options.Client().ApplyURI(e.DocDBURI))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", e.DocDBURI, err)
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	if err := client.Ping(ctx, nil); err != nil {
		_ = client.Disconnect(ctx)
		return nil, fmt.Errorf("ping %s: %w", e.DocDBURI, err)
	}
	return client, nil
}

// withMongo runs fn with a short-lived client.
func (e *Env) withMongo(fn func(ctx context.Context, c *mongo.Client) error) error {
	client, err := e.connect()
	if err != nil {
		return err
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	defer client.Disconnect(ctx)
	return fn(ctx, client)
}

// S3 returns an *s3.Client for the devstack (static credentials, path-style, region, BaseEndpoint).
func (e *Env) S3(t testing.TB) *s3.Client {
	t.Helper()
	return e.s3Client()
}

// s3Client returns a path-style client with the devstack's static credentials.
func (e *Env) s3Client() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(e.S3Endpoint),
		Region:       e.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(e.AccessKey, e.SecretKey, ""),
		UsePathStyle: true,
	})
}

// NewBucket creates a bucket with a unique name derived from t.Name() (lowercase, valid S3 name, <= 63 chars) and returns its name.
// The bucket and its objects are deleted at cleanup.
func (e *Env) NewBucket(t testing.TB) string {
	t.Helper()
	name := uniqueName(t.Name(), '-', 63)
	client := e.s3Client()
	if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("devstacktest: create bucket %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := deleteBucket(client, name); err != nil {
			t.Logf("devstacktest: %v", err)
		}
	})
	return name
}

// deleteBucket empties and deletes bucket.
func deleteBucket(client *s3.Client, bucket string) error {
	ctx, cancel := ctxTimeout()
	defer cancel()
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list bucket %s for cleanup: %w", bucket, err)
		}
		for _, obj := range page.Contents {
			if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: obj.Key}); err != nil {
				return fmt.Errorf("delete s3://%s/%s at cleanup: %w", bucket, aws.ToString(obj.Key), err)
			}
		}
	}
	_, err := client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	var missing *types.NoSuchBucket
	if err != nil && !errors.As(err, &missing) {
		return fmt.Errorf("delete bucket %s at cleanup: %w", bucket, err)
	}
	return nil
}

// PutObjects uploads key->content into bucket.
func (e *Env) PutObjects(t testing.TB, bucket string, objects map[string]string) {
	t.Helper()
	client := e.s3Client()
	keys := make([]string, 0, len(objects))
	for k := range objects {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		_, err := client.PutObject(t.Context(), &s3.PutObjectInput{
			Bucket: aws.String(bucket),
			Key:    aws.String(k),
			Body:   strings.NewReader(objects[k]),
		})
		if err != nil {
			t.Fatalf("devstacktest: put s3://%s/%s: %v", bucket, k, err)
		}
	}
}

// NewDatabase returns a unique database name for this test (dropped at cleanup).
func (e *Env) NewDatabase(t testing.TB) string {
	t.Helper()
	// FerretDB accepts database names matching ^[a-zA-Z0-9_-]{1,63}$.
	name := uniqueName(t.Name(), '_', 63)
	t.Cleanup(func() {
		err := e.withMongo(func(ctx context.Context, c *mongo.Client) error {
			return c.Database(name).Drop(ctx)
		})
		if err != nil {
			t.Logf("devstacktest: drop database %s: %v", name, err)
		}
	})
	return name
}

// InsertDocs inserts documents into database.collection.
func (e *Env) InsertDocs(t testing.TB, database, collection string, docs []any) {
	t.Helper()
	if len(docs) == 0 {
		return
	}
	err := e.withMongo(func(ctx context.Context, c *mongo.Client) error {
		_, err := c.Database(database).Collection(collection).InsertMany(ctx, docs)
		return err
	})
	if err != nil {
		t.Fatalf("devstacktest: insert into %s.%s: %v", database, collection, err)
	}
}

// uniqueName turns a test name into "<name>-<random>" using only a-z, 0-9
// and sep, starting and ending with a letter or digit, at most max bytes.
func uniqueName(testName string, sep byte, max int) string {
	var b strings.Builder
	lastSep := true // suppress leading separators
	for _, r := range strings.ToLower(testName) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			lastSep = false
		} else if !lastSep {
			b.WriteByte(sep)
			lastSep = true
		}
	}
	base := strings.TrimRight(b.String(), string(sep))
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	suffix := string(sep) + hex.EncodeToString(rnd[:])
	base = strings.TrimRight(base[:min(len(base), max-len(suffix))], string(sep))
	if base == "" {
		base = "test"
	}
	return base + suffix
}
