//go:build linux

package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rs/zerolog"
)

// TestPatchedListingAnswersLikeS3: the patched versitygw (versitygwPatch) still lists what
// S3 lists, for prefixes whose folder exists, does not exist, or exists only in part.
func TestPatchedListingAnswersLikeS3(t *testing.T) {
	if testing.Short() {
		t.Skip("starts versitygw")
	}
	ctx := t.Context()
	cache := os.Getenv("AIND_DEVSTACK_CACHE")
	if cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(base, "aind-devstack")
	}
	installCtx, cancel := context.WithTimeout(ctx, startTimeout(t))
	defer cancel()
	bin, err := ensureVersitygw(installCtx, zerolog.Nop(), "", cache)
	if err != nil {
		t.Fatal(err)
	}
	st, err := startStack(ctx, zerolog.Nop(), stackConfig{dataDir: t.TempDir(), versitygwBin: bin, timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.stop() })
	if err := st.createBucket(ctx, "listing"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"h1/a.txt", "h1/sub/b.txt", "h2/c.txt", "top.txt"} {
		if _, err := st.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("listing"), Key: aws.String(k), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct{ prefix, want string }{
		{"h1/", "h1/a.txt h1/sub/b.txt"},
		{"h1/sub/", "h1/sub/b.txt"},
		{"h1/s", "h1/sub/b.txt"},
		{"h", "h1/a.txt h1/sub/b.txt h2/c.txt"},
		{"missing/", ""},      // the patched case: the folder does not exist
		{"missing/deep/", ""}, // nor its parent
		{"h1/missing/", ""},   // the parent exists
		{"top.txt/", ""},      // a file where the folder would be
		{"", "h1/a.txt h1/sub/b.txt h2/c.txt top.txt"},
	}
	for _, tt := range tests {
		out, err := st.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("listing"), Prefix: aws.String(tt.prefix)})
		if err != nil {
			t.Fatalf("prefix %q: %v", tt.prefix, err)
		}
		var keys []string
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		slices.Sort(keys)
		if got := strings.Join(keys, " "); got != tt.want {
			t.Errorf("prefix %q: listed %q, want %q", tt.prefix, got, tt.want)
		}
	}
}

// TestPatchAppliesOnce: the patch's text is in the pinned versitygw's source exactly once
// (applyPatch refuses otherwise), and is replaced.
func TestPatchAppliesOnce(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, filepath.FromSlash(versitygwPatch.file))
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		text    string
		wantErr bool
	}{
		{"a\n" + versitygwPatch.old + "\nb\n", false},
		{"not there", true},
		{versitygwPatch.old + versitygwPatch.old, true},
	} {
		if err := os.WriteFile(file, []byte(tt.text), 0o644); err != nil {
			t.Fatal(err)
		}
		err := applyPatch(dir)
		if (err != nil) != tt.wantErr {
			t.Fatalf("applyPatch on %d bytes: %v, want error %v", len(tt.text), err, tt.wantErr)
		}
		if b, _ := os.ReadFile(file); !tt.wantErr && !strings.Contains(string(b), "aind-devstack: no key has this prefix") {
			t.Errorf("not patched: %s", b)
		}
	}
}
