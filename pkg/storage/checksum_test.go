package storage

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestS3StoresTheSHA256ItSends: Put and PutFile send each body's SHA-256, S3 keeps it, and
// Stat reads it back as the content's hex SHA-256, so a caller can check an object without
// downloading it. An object in parts has each part checked (SHA-256 per part) but only a
// composite checksum, which is not the content's: Stat leaves SHA256 empty. An object
// written without a SHA-256 (the SDK's default CRC32) has none either.
func TestS3StoresTheSHA256ItSends(t *testing.T) {
	s, bucket := devstackS3(t, S3Options{PartSize: MinPartSize, Concurrency: 2})
	ctx := t.Context()
	small := []byte("a small result file\n")
	large := bytes.Repeat([]byte("0123456789abcdef"), (2*MinPartSize+100)/16)
	local := filepath.Join(t.TempDir(), "file.json")
	if err := os.WriteFile(local, small, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		put           func(u URL) error
		want          string             // Stat's SHA256
		wantComposite bool               // a COMPOSITE SHA-256 checksum on HeadObject
		wantType      types.ChecksumType // the checksum type S3 reports
	}{
		{"Put, one request", func(u URL) error { return s.Put(ctx, u, bytes.NewReader(small), PutOptions{IfNotExists: true}) }, hexSHA256(small), false, types.ChecksumTypeFullObject},
		{"Put, unknown size", func(u URL) error { return s.Put(ctx, u, onlyReader{bytes.NewReader(small)}, PutOptions{}) }, hexSHA256(small), false, types.ChecksumTypeFullObject},
		{"PutFile", func(u URL) error { return s.PutFile(ctx, local, u, PutOptions{IfNotExists: true}) }, hexSHA256(small), false, types.ChecksumTypeFullObject},
		{"Put, in parts", func(u URL) error { return s.Put(ctx, u, bytes.NewReader(large), PutOptions{IfNotExists: true}) }, "", true, types.ChecksumTypeComposite},
		{"raw PutObject without a SHA-256", func(u URL) error {
			_, err := s.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(u.Bucket), Key: aws.String(u.Key), Body: bytes.NewReader(small)})
			return err
		}, "", false, types.ChecksumTypeFullObject},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := URL{Scheme: SchemeS3, Bucket: bucket, Key: "sums/" + string(rune('a'+i))}
			if err := tt.put(u); err != nil {
				t.Fatal(err)
			}
			obj, err := s.Stat(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			if obj.SHA256 != tt.want {
				t.Errorf("Stat SHA256 = %q, want %q", obj.SHA256, tt.want)
			}
			head, err := s.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(u.Key), ChecksumMode: types.ChecksumModeEnabled})
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToString(head.ChecksumSHA256) != "" && head.ChecksumType == types.ChecksumTypeComposite; got != tt.wantComposite {
				t.Errorf("HeadObject: sha256 %q, type %q; want a composite SHA-256: %v", aws.ToString(head.ChecksumSHA256), head.ChecksumType, tt.wantComposite)
			}
			if head.ChecksumType != tt.wantType {
				t.Errorf("HeadObject checksum type %q, want %q", head.ChecksumType, tt.wantType)
			}
		})
	}
}

// TestS3RefusesABodyThatDoesNotMatchItsSHA256: the devstack's S3 (versitygw v1.8.0)
// checks x-amz-checksum-sha256 against the body it receives, for a PutObject and for each
// part of a multipart upload, and refuses a mismatch (400 BadDigest) without storing
// anything. That refusal is what the store's checksums rely on; it is classified transient
// (the bytes changed on the way; sending them again can succeed).
func TestS3RefusesABodyThatDoesNotMatchItsSHA256(t *testing.T) {
	s, bucket := devstackS3(t, S3Options{PartSize: MinPartSize})
	ctx := t.Context()
	body := []byte("the bytes that arrive")
	wrong := sha256Base64([]byte("the bytes that were sent"))
	wantBadDigest := func(t *testing.T, op string, err error) {
		t.Helper()
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "BadDigest" {
			t.Fatalf("%s with a wrong SHA-256: %v, want BadDigest", op, err)
		}
		u := URL{Scheme: SchemeS3, Bucket: bucket, Key: "k"}
		if c := classify(op, u, err); !fault.IsTransient(c) {
			t.Fatalf("classified %v, want transient", c)
		}
	}

	_, err := s.Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("put"), Body: bytes.NewReader(body), ChecksumSHA256: wrong,
	})
	wantBadDigest(t, "PutObject", err)
	if _, err := s.Stat(ctx, URL{Scheme: SchemeS3, Bucket: bucket, Key: "put"}); !IsNotFound(err) {
		t.Fatalf("an object was stored from a refused PutObject (Stat: %v)", err)
	}

	create, err := s.Client().CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String("parts"), ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Client().AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("parts"), UploadId: create.UploadId})
	_, err = s.Client().UploadPart(ctx, &s3.UploadPartInput{
		Bucket: aws.String(bucket), Key: aws.String("parts"), UploadId: create.UploadId, PartNumber: aws.Int32(1),
		Body: bytes.NewReader(body), ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumSHA256: wrong,
	})
	wantBadDigest(t, "UploadPart", err)
	parts, err := s.Client().ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String("parts"), UploadId: create.UploadId})
	if err != nil {
		t.Fatal(err)
	}
	if len(parts.Parts) != 0 {
		t.Fatalf("a refused part was stored: %+v", parts.Parts)
	}
}

func TestWholeSHA256(t *testing.T) {
	sum := sha256.Sum256([]byte("x"))
	b64 := base64.StdEncoding.EncodeToString(sum[:])
	tests := []struct {
		name, b64 string
		typ       types.ChecksumType
		want      string
	}{
		{"full object", b64, types.ChecksumTypeFullObject, hex.EncodeToString(sum[:])},
		{"no type given", b64, "", hex.EncodeToString(sum[:])},
		{"none", "", types.ChecksumTypeFullObject, ""},
		{"composite, by type", b64, types.ChecksumTypeComposite, ""},
		{"composite, by suffix", b64 + "-3", "", ""},
		{"not base64", "not base64!", "", ""},
		{"not 32 bytes", base64.StdEncoding.EncodeToString([]byte("short")), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wholeSHA256(tt.b64, tt.typ); got != tt.want {
				t.Fatalf("wholeSHA256(%q, %q) = %q, want %q", tt.b64, tt.typ, got, tt.want)
			}
		})
	}
}

// understated is a reader whose Len says less than it holds (a file that grew).
type understated struct {
	*bytes.Reader
	len int
}

func (u understated) Len() int { return u.len }

// TestS3PutSendsAllOfAReaderLongerThanItSaid: a small body is read into memory to hash
// it; one longer than its Len still arrives whole, with its SHA-256.
func TestS3PutSendsAllOfAReaderLongerThanItSaid(t *testing.T) {
	s, bucket := devstackS3(t, S3Options{PartSize: MinPartSize})
	ctx := t.Context()
	for _, n := range []int{100, MinPartSize + 100} {
		data := bytes.Repeat([]byte("x"), n)
		u := URL{Scheme: SchemeS3, Bucket: bucket, Key: "grew/" + string(rune('a'+n%26))}
		if err := s.Put(ctx, u, understated{bytes.NewReader(data), 10}, PutOptions{IfNotExists: true}); err != nil {
			t.Fatal(err)
		}
		obj, err := s.Stat(ctx, u)
		if err != nil || obj.Size != int64(n) {
			t.Fatalf("Stat = %+v, %v; want %d bytes", obj, err, n)
		}
		if want := hexSHA256(data); n < MinPartSize && obj.SHA256 != want {
			t.Fatalf("SHA256 %q, want %q", obj.SHA256, want)
		}
	}
}
