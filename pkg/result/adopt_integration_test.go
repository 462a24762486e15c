package result_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/devstacktest"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/docdb"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/result"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// TestMain shares one devstack among the package's integration tests, started by the
// first that asks for it (the unit tests need none).
func TestMain(m *testing.M) { os.Exit(devstacktest.Main(m)) }

// openFence confirms every step: the claim is the wrapper's business, not this test's.
type openFence struct{}

func (openFence) Confirm(context.Context, string) error { return nil }

// countingStore counts Stat and Open calls by object URL.
type countingStore struct {
	storage.Store
	mu           sync.Mutex
	stats, opens map[string]int
}

func (s *countingStore) Stat(ctx context.Context, u storage.URL) (storage.Object, error) {
	s.mu.Lock()
	s.stats[u.String()]++
	s.mu.Unlock()
	return s.Store.Stat(ctx, u)
}

func (s *countingStore) Open(ctx context.Context, u storage.URL) (io.ReadCloser, error) {
	s.mu.Lock()
	s.opens[u.String()]++
	s.mu.Unlock()
	return s.Store.Open(ctx, u)
}

// adoptWorld is a devstack bucket with two record collections sharing it.
type adoptWorld struct {
	env           *devstacktest.Env
	raw           *s3.Client
	store         *storage.S3
	bucket        string
	results       storage.URL
	first, second docdb.Store // the collection that published, and another one
}

func newAdoptWorld(t *testing.T) *adoptWorld {
	t.Helper()
	env := devstacktest.Get(t)
	env.Setenv(t)
	w := &adoptWorld{env: env, raw: env.S3(t), bucket: env.NewBucket(t)}
	w.results = storage.MustParse("s3://" + w.bucket + "/results")
	var err error
	// A small part size: the large output goes up in parts, whose checksum is composite.
	if w.store, err = storage.NewS3(t.Context(), storage.S3Options{PartSize: storage.MinPartSize}); err != nil {
		t.Fatal(err)
	}
	db, c := env.NewDatabase(t), env.OpenDocDB(t)
	w.first, w.second = c.Collection(db, "results"), c.Collection(db, "other")
	return w
}

func (w *adoptWorld) publisher(records docdb.Store, store storage.Store) result.Publisher {
	return result.Publisher{Store: store, Bucket: w.results, Records: records, Concurrency: 4, Log: zerolog.Nop()}
}

// job is the Code block and identity of a job, as the wrapper computes them.
func job(t *testing.T, cutoff float64) (identity.Code, string) {
	t.Helper()
	code := identity.NewCode(identity.CodeInfo{URL: "https://example.org/analysis", Name: "analysis", Version: "1.0.0"},
		map[string]any{"cutoff": cutoff}, []string{"s3://inputs/asset1"})
	h, err := code.Hash()
	if err != nil {
		t.Fatal(err)
	}
	return code, h
}

// large is an output over a part: uploaded in parts, its checksum is composite.
var large = bytes.Repeat([]byte("large output 01\n"), (storage.MinPartSize+1000)/16)

// publish runs the wrapper's publish steps for the job into the first collection: its
// files (a small and a large output, metadata.nd.json), manifest last, then the record.
func (w *adoptWorld) publish(t *testing.T, code identity.Code, hash string) {
	t.Helper()
	dir := t.TempDir()
	meta := identity.NewMetadata(identity.Run{Code: code, Hash: hash, Location: w.results.Join(hash).String(), Start: time.Now(), End: time.Now(),
		Outputs: map[string]any{"n": 3}})
	files := map[string][]byte{"out.txt": []byte("the analysis' answer: 42\n"), "large.bin": large}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := result.WriteJSON(filepath.Join(dir, result.MetadataFile), meta); err != nil {
		t.Fatal(err)
	}
	p := w.publisher(w.first, w.store)
	m, err := p.Upload(t.Context(), openFence{}, hash, dir, result.Prefix{})
	if err == nil {
		err = p.Record(t.Context(), openFence{}, m, meta)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// objects returns every object under the results folder with its content.
func (w *adoptWorld) objects(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := w.store.List(t.Context(), w.results, func(o storage.Object) error {
		rc, err := w.store.Open(t.Context(), o.URL)
		if err != nil {
			return err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		out[o.Rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// record returns the record of hash in records, as JSON values (nil when absent).
func record(t *testing.T, records docdb.Store, hash string) map[string]any {
	t.Helper()
	var got map[string]any
	err := records.Find(t.Context(), bson.D{{Key: "_id", Value: hash}}, docdb.FindOptions{}, func(doc bson.Raw) error {
		b, err := bson.MarshalExtJSON(doc, false, false)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &got)
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// rawPut overwrites an object through the SDK client, as anything else with write access
// to the bucket could: no If-None-Match, and the SDK's own checksum (CRC32) unless sha256
// (base64) is given.
func (w *adoptWorld) rawPut(t *testing.T, key string, body []byte, sha256 *string) {
	t.Helper()
	_, err := w.raw.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(w.bucket), Key: aws.String(key), Body: bytes.NewReader(body), ChecksumSHA256: sha256})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAdoptOnS3 runs Adopt for another collection against the devstack's S3 on a result a
// wrapper published, as is and forged. The legitimate one (the same job, recorded for
// another collection) is adopted: its record inserted, its objects untouched, the small
// files checked by HEAD alone (S3 keeps the SHA-256 sent at upload), the multipart one
// read. A forgery is refused, permanently, naming the prefix and the object or field,
// with no record inserted and no object touched: an output overwritten in place with
// other bytes of the same size (with the SDK's default checksum, with a SHA-256 of its
// own, in parts), and another job's complete result copied under this job's hash with
// its manifest's hash rewritten.
func TestAdoptOnS3(t *testing.T) {
	code, h := job(t, 0.5)
	otherCode, other := job(t, 0.25)
	prefix := func(w *adoptWorld) string { return w.results.Join(h).String() }
	tests := []struct {
		name    string
		forge   func(t *testing.T, w *adoptWorld)
		wantErr func(w *adoptWorld) []string // nil: adopted
	}{
		{"the same job for another collection", func(*testing.T, *adoptWorld) {}, nil},
		{"output overwritten, same size, the SDK's checksum", func(t *testing.T, w *adoptWorld) {
			w.rawPut(t, "results/"+h+"/out.txt", []byte("the analysis' answer: 41\n"), nil)
		}, func(w *adoptWorld) []string {
			return []string{prefix(w) + "/out.txt: sha256 ", " read, ", " in manifest.json"}
		}},
		{"output overwritten, same size, a SHA-256 of its own", func(t *testing.T, w *adoptWorld) {
			body := []byte("the analysis' answer: 41\n")
			w.rawPut(t, "results/"+h+"/out.txt", body, sha256Base64(body))
		}, func(w *adoptWorld) []string {
			return []string{prefix(w) + "/out.txt: sha256 ", " in the store, ", " in manifest.json"}
		}},
		{"large output overwritten in parts, same size", func(t *testing.T, w *adoptWorld) {
			forged := bytes.Clone(large)
			forged[len(forged)-3] = '9'
			if err := w.store.Put(t.Context(), w.results.Join(h, "large.bin"), bytes.NewReader(forged), storage.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}, func(w *adoptWorld) []string {
			return []string{prefix(w) + "/large.bin: sha256 ", " read, "}
		}},
		{"another job's result copied under the hash, its manifest's hash rewritten", func(t *testing.T, w *adoptWorld) {
			w.publish(t, otherCode, other)
			for _, name := range []string{"out.txt", "large.bin", result.MetadataFile} {
				_, err := w.raw.CopyObject(t.Context(), &s3.CopyObjectInput{Bucket: aws.String(w.bucket),
					CopySource: aws.String(w.bucket + "/results/" + other + "/" + name), Key: aws.String("results/" + h + "/" + name)})
				if err != nil {
					t.Fatal(err)
				}
			}
			m, err := result.ReadManifest(t.Context(), w.store, w.results.Join(other))
			if err != nil {
				t.Fatal(err)
			}
			m.Hash = h
			b, _ := json.Marshal(m)
			w.rawPut(t, "results/"+h+"/"+result.ManifestFile, b, nil)
		}, func(w *adoptWorld) []string {
			return []string{prefix(w) + "/" + result.MetadataFile + " describes job " + other + ", not " + h}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newAdoptWorld(t)
			w.publish(t, code, h)
			original := record(t, w.first, h)
			tt.forge(t, w)
			before := w.objects(t)
			cs := &countingStore{Store: w.store, stats: map[string]int{}, opens: map[string]int{}}
			adopted, err := w.publisher(w.second, cs).Adopt(t.Context(), openFence{}, h)
			if after := w.objects(t); !reflect.DeepEqual(after, before) {
				t.Errorf("objects changed by Adopt")
			}
			if tt.wantErr == nil {
				if err != nil || !adopted {
					t.Fatalf("Adopt: %v, %v; want adopted", adopted, err)
				}
				if got := record(t, w.second, h); !reflect.DeepEqual(got, original) {
					t.Fatalf("record in the other collection:\n%v\nwant the published one:\n%v", got, original)
				}
				// The small output is checked by its HEAD's SHA-256; the large one, in parts,
				// has none and is read.
				small, big := w.results.Join(h, "out.txt").String(), w.results.Join(h, "large.bin").String()
				if cs.stats[small] != 1 || cs.opens[small] != 0 || cs.stats[big] != 1 || cs.opens[big] != 1 {
					t.Errorf("stats %v, opens %v: want out.txt checked by one HEAD, large.bin read once", cs.stats, cs.opens)
				}
				return
			}
			if err == nil || adopted {
				t.Fatalf("Adopt: %v, %v; want a refusal", adopted, err)
			}
			if code := fault.ExitCode(err); code != fault.ExitFailed {
				t.Errorf("exit code %d for %v, want %d (permanent)", code, err, fault.ExitFailed)
			}
			for _, s := range append(tt.wantErr(w), "nothing recorded") {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if got := record(t, w.second, h); got != nil {
				t.Errorf("record inserted in the other collection: %v", got)
			}
		})
	}
}

// sha256Base64 is data's SHA-256 as S3's checksum header carries it.
func sha256Base64(data []byte) *string {
	sum := sha256.Sum256(data)
	return aws.String(base64.StdEncoding.EncodeToString(sum[:]))
}
