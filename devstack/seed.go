package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// uploadConcurrency bounds concurrent PutObject calls while seeding.
const uploadConcurrency = 16

// seed loads DIR/docdb/<database>/<collection>.json into FerretDB and uploads
// DIR/s3/<bucket>/<key...> to versitygw. Either part may be absent.
func seed(ctx context.Context, log zerolog.Logger, st *stack, dir string) error {
	if err := seedDocDB(ctx, log, st.mongo, filepath.Join(dir, "docdb")); err != nil {
		return fmt.Errorf("seed DocDB from %s: %w", dir, err)
	}
	if err := seedS3(ctx, log, st, filepath.Join(dir, "s3")); err != nil {
		return fmt.Errorf("seed S3 from %s: %w", dir, err)
	}
	return nil
}

// seedDocDB inserts every <database>/<collection>.json array under root.
// Documents whose _id already exists (a reused --dir) are left as they are.
func seedDocDB(ctx context.Context, log zerolog.Logger, client *mongo.Client, root string) error {
	files, err := filepath.Glob(filepath.Join(root, "*", "*.json"))
	if err != nil {
		return fmt.Errorf("list seed documents: %w", err)
	}
	sort.Strings(files)
	for _, file := range files {
		database := filepath.Base(filepath.Dir(file))
		collection := strings.TrimSuffix(filepath.Base(file), ".json")
		docs, err := readDocs(file)
		if err != nil {
			return err
		}
		if len(docs) == 0 {
			continue
		}
		coll := client.Database(database).Collection(collection)
		res, err := coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
		skipped, err := onlyDuplicateKeys(err)
		if err != nil {
			return fmt.Errorf("insert %s into %s.%s: %w", file, database, collection, err)
		}
		inserted := 0
		if res != nil {
			inserted = len(res.InsertedIDs)
		}
		log.Info().Str("collection", database+"."+collection).Int("inserted", inserted).Int("already_present", skipped).Msg("seeded documents")
	}
	return nil
}

// readDocs parses a JSON array of (extended JSON) documents, keeping field order and _id as given.
func readDocs(file string) ([]any, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read seed documents: %w", err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, fmt.Errorf("parse %s (want a JSON array of documents): %w", file, err)
	}
	docs := make([]any, 0, len(raws))
	for i, raw := range raws {
		var doc bson.D
		if err := bson.UnmarshalExtJSON(raw, false, &doc); err != nil {
			return nil, fmt.Errorf("parse %s document %d: %w", file, i, err)
		}
		docs = append(docs, doc)
	}
	return docs, nil
}

// onlyDuplicateKeys returns how many write errors were duplicate keys, and err
// unless every write error was one (code 11000).
func onlyDuplicateKeys(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return 0, err
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != 11000 {
			return 0, err
		}
	}
	return len(bwe.WriteErrors), nil
}

// seedObject is one file to upload.
type seedObject struct {
	bucket, key, path string
}

// seedS3 creates each <bucket> directory under root as a bucket and uploads
// every file below it at its relative path, at most uploadConcurrency at once.
func seedS3(ctx context.Context, log zerolog.Logger, st *stack, root string) error {
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list seed buckets: %w", err)
	}
	var objects []seedObject
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		bucket := e.Name()
		if err := validBucketName(bucket); err != nil {
			return fmt.Errorf("seed bucket directory %q: %w", bucket, err)
		}
		if err := st.createBucket(ctx, bucket); err != nil {
			return err
		}
		bucketDir := filepath.Join(root, bucket)
		err := filepath.WalkDir(bucketDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(bucketDir, path)
			if err != nil {
				return err
			}
			objects = append(objects, seedObject{bucket: bucket, key: filepath.ToSlash(rel), path: path})
			return nil
		})
		if err != nil {
			return fmt.Errorf("walk %s: %w", bucketDir, err)
		}
	}

	started := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, uploadConcurrency)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for _, obj := range objects {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := uploadFile(ctx, st.s3, obj); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("upload seed objects: %w", err)
	}
	log.Info().Int("objects", len(objects)).Dur("took", time.Since(started)).Msg("seeded objects")
	return nil
}

// uploadFile puts one seed file.
func uploadFile(ctx context.Context, client *s3.Client, obj seedObject) error {
	f, err := os.Open(obj.path)
	if err != nil {
		return fmt.Errorf("open seed object: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat seed object: %w", err)
	}
	_, err = client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(obj.bucket),
		Key:           aws.String(obj.key),
		Body:          f,
		ContentLength: aws.Int64(fi.Size()),
	})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", obj.bucket, obj.key, err)
	}
	return nil
}

// bucketNameRe matches the S3 bucket naming rules this stack relies on.
var bucketNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// validBucketName checks name against the S3 bucket naming rules.
func validBucketName(name string) error {
	if !bucketNameRe.MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("%q is not a valid S3 bucket name (3-63 of a-z 0-9 . -, starting and ending with a letter or digit)", name)
	}
	return nil
}
