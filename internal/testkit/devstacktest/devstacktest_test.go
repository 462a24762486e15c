package devstacktest

import (
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestUniqueName(t *testing.T) {
	bucketRe := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	dbRe := regexp.MustCompile(`^[a-zA-Z0-9_-]{1,63}$`)
	for _, name := range []string{
		"TestX", "TestFoo/sub_case#01", "Test//__--..", "", strings.Repeat("TestVeryLong/Ünïcode ", 10),
	} {
		b := uniqueName(name, '-', 63)
		if !bucketRe.MatchString(b) || strings.Contains(b, "--") {
			t.Errorf("bucket name for %q = %q", name, b)
		}
		d := uniqueName(name, '_', 63)
		if !dbRe.MatchString(d) {
			t.Errorf("database name for %q = %q", name, d)
		}
	}
	if uniqueName("TestX", '-', 63) == uniqueName("TestX", '-', 63) {
		t.Error("names are not unique")
	}
}

func TestDevstackHelpers(t *testing.T) {
	env := Get(t)
	if env.AnalysisBucket != "s3://aind-analysis" || env.Region != "us-east-1" {
		t.Fatalf("env = %+v", env)
	}

	t.Run("Setenv", func(t *testing.T) {
		env.Setenv(t)
		for k, want := range env.DocDBVars() {
			if got := os.Getenv(k); got != want {
				t.Errorf("%s = %q, want %q (AIND_TEST_DOCDB=%s)", k, got, want, DocDBBackend())
			}
		}
		if os.Getenv("AWS_ENDPOINT_URL_S3") != env.S3Endpoint || os.Getenv("DEVSTACK_PID") == "" {
			t.Errorf("environment not set from %v", env.Vars)
		}
	})

	t.Run("S3 round trip/with a Long & ODD name that needs trimming to fit in 63 chars", func(t *testing.T) {
		bucket := env.NewBucket(t)
		env.PutObjects(t, bucket, map[string]string{
			"a/one.txt":           "one",
			"a/b/two.json":        `{"two":2}`,
			"session.nwb/.zattrs": "{}",
		})
		client := env.S3(t)
		out, err := client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/b/two.json")})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(body) != `{"two":2}` {
			t.Errorf("body = %q", body)
		}
		list, err := client.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Contents) != 3 {
			t.Errorf("listed %d objects, want 3", len(list.Contents))
		}
	})

	t.Run("Mongo round trip", func(t *testing.T) {
		db := env.NewDatabase(t)
		env.InsertDocs(t, db, "assets", []any{
			bson.D{{Key: "_id", Value: "a1"}, {Key: "subject", Value: bson.D{{Key: "subject_id", Value: "774659"}}}},
			bson.M{"_id": "a2", "subject": bson.M{"subject_id": "816886"}},
		})
		client := env.Mongo(t)
		var doc struct {
			ID      string `bson:"_id"`
			Subject struct {
				SubjectID string `bson:"subject_id"`
			} `bson:"subject"`
		}
		err := client.Database(db).Collection("assets").FindOne(t.Context(), bson.D{{Key: "subject.subject_id", Value: "816886"}}).Decode(&doc)
		if err != nil || doc.ID != "a2" {
			t.Errorf("FindOne = %+v, %v", doc, err)
		}
	})

	t.Run("seeded data", func(t *testing.T) {
		client := env.Mongo(t)
		n, err := client.Database("metadata_index").Collection("data_assets").CountDocuments(t.Context(), bson.D{{Key: "subject.subject_id", Value: "774659"}})
		if err != nil || n != 4 {
			t.Errorf("seeded assets of 774659 = %d, %v; want 4", n, err)
		}
		_, err = env.S3(t).HeadObject(t.Context(), &s3.HeadObjectInput{
			Bucket: aws.String("aind-open-data-devstack"),
			Key:    aws.String("behavior_790001_2025-05-22_15-45-10_processed_2025-05-23_04-30-55/data_description.json"),
		})
		if err != nil {
			t.Errorf("seeded object: %v", err)
		}
	})
}
