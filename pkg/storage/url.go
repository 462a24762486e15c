package storage

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// Schemes of a URL.
const (
	// SchemeS3 is the scheme of s3://bucket/key URLs.
	SchemeS3 = "s3"
	// SchemeFile is the scheme of local paths, written plainly or as file:///abs/path.
	SchemeFile = "file"
)

// URL is a parsed storage location: s3://bucket/key, file:///abs/path, or a plain local
// path. Parse is the only way a string becomes a URL; the zero URL is not valid.
//
// An S3 URL has Bucket and Key (Key "" is the whole bucket; a Key never ends with "/").
// A local URL has Path, cleaned with filepath.Clean (relative paths are kept relative).
type URL struct {
	// Scheme is SchemeS3 or SchemeFile.
	Scheme string
	// Bucket is the S3 bucket (s3 only).
	Bucket string
	// Key is the S3 object key or key prefix, without a trailing slash (s3 only).
	Key string
	// Path is the cleaned local path, as given: absolute or relative (file only).
	Path string
}

// schemeLike matches a string that starts like "name:/": an URL of some scheme. A single
// letter is not taken as a scheme, so that Windows drive letters ("C:/x") stay paths.
var schemeLike = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]+):/`)

// bucketName is what Parse accepts as a bucket: the characters of current and legacy S3
// bucket names.
var bucketName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// Parse parses s3://bucket/key, file:///abs/path or a plain local path. Errors name the
// input. For s3 URLs "s3://b" and "s3://b/" both have Key "", inner slashes of a key are
// kept as they are and trailing slashes are dropped. A file URL must be absolute (no host
// other than "localhost") and is not percent-decoded. Any other scheme is an error.
func Parse(s string) (URL, error) {
	bad := func(format string, args ...any) (URL, error) {
		return URL{}, fmt.Errorf("storage URL %q: %s", s, fmt.Sprintf(format, args...))
	}
	switch {
	case s == "":
		return URL{}, errors.New("storage URL: empty")
	case strings.HasPrefix(s, "s3://"):
		rest := strings.TrimPrefix(s, "s3://")
		bucket, key, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return bad("missing bucket")
		}
		if !bucketName.MatchString(bucket) {
			return bad("invalid bucket name %q", bucket)
		}
		return URL{Scheme: SchemeS3, Bucket: bucket, Key: strings.TrimRight(key, "/")}, nil
	case strings.HasPrefix(s, "file://"):
		rest := strings.TrimPrefix(s, "file://")
		rest = strings.TrimPrefix(rest, "localhost")
		if !strings.HasPrefix(rest, "/") {
			return bad("a file URL needs an absolute path (file:///abs/path)")
		}
		return URL{Scheme: SchemeFile, Path: filepath.Clean(filepath.FromSlash(rest))}, nil
	}
	if strings.HasPrefix(s, "s3:") {
		return bad("malformed s3 URL (want s3://bucket/key)")
	}
	if m := schemeLike.FindStringSubmatch(s); m != nil {
		return bad("unsupported scheme %q (want s3://, file:// or a local path)", m[1])
	}
	return URL{Scheme: SchemeFile, Path: filepath.Clean(s)}, nil
}

// MustParse is Parse for constants and tests: it panics on error.
func MustParse(s string) URL {
	u, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// String returns the URL in the form Parse reads back to the same URL: "s3://b/k" (or
// "s3://b" for a whole bucket), and the plain path for a local URL.
func (u URL) String() string {
	switch u.Scheme {
	case SchemeS3:
		if u.Key == "" {
			return "s3://" + u.Bucket
		}
		return "s3://" + u.Bucket + "/" + u.Key
	case SchemeFile:
		// A relative path that reads like an URL ("s3:/x", "gs://x" cleaned) is written
		// as "./..." so that Parse takes it as a path again.
		if schemeLike.MatchString(u.Path) || strings.HasPrefix(u.Path, "s3:") {
			return "." + string(filepath.Separator) + u.Path
		}
		return u.Path
	}
	return ""
}

// Join returns u with elem appended. An S3 key is opaque: the elements are appended with
// one "/" between them and nothing is cleaned, so "s3://b/p//a" joined with "w.nwb" is
// "s3://b/p//a/w.nwb" (the object's real key), and "." or ".." are key characters, not
// moves; empty elements are skipped and a trailing "/" of the result is dropped, as Parse
// does. A local path is joined with filepath.Join (cleaned).
func (u URL) Join(elem ...string) URL {
	switch u.Scheme {
	case SchemeS3:
		key := u.Key
		for _, e := range elem {
			switch {
			case e == "":
			case key == "":
				key = e
			default:
				key += "/" + e
			}
		}
		u.Key = strings.TrimRight(key, "/")
	case SchemeFile:
		u.Path = filepath.Join(append([]string{u.Path}, elem...)...)
	}
	return u
}

// IsS3 reports whether u is an s3:// URL.
func (u URL) IsS3() bool { return u.Scheme == SchemeS3 }

// IsLocal reports whether u is a local path (plain or file://).
func (u URL) IsLocal() bool { return u.Scheme == SchemeFile }

// dirPrefix is the key prefix List uses for an S3 prefix: the key as a folder ("a/"), or
// "" for the whole bucket.
func (u URL) dirPrefix() string {
	if u.Key == "" {
		return ""
	}
	return u.Key + "/"
}
