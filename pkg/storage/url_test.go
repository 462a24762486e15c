package storage

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    URL
		str     string // String(); "" means in
		wantErr string
	}{
		{name: "s3 key", in: "s3://b/k", want: URL{Scheme: "s3", Bucket: "b", Key: "k"}},
		{name: "s3 nested key", in: "s3://bucket/a/b/c.nwb", want: URL{Scheme: "s3", Bucket: "bucket", Key: "a/b/c.nwb"}},
		{name: "s3 bucket only", in: "s3://b", want: URL{Scheme: "s3", Bucket: "b"}},
		{name: "s3 bucket slash", in: "s3://b/", want: URL{Scheme: "s3", Bucket: "b"}, str: "s3://b"},
		{name: "s3 trailing slash dropped", in: "s3://b/a/b/", want: URL{Scheme: "s3", Bucket: "b", Key: "a/b"}, str: "s3://b/a/b"},
		{name: "s3 trailing slashes dropped", in: "s3://b/a//", want: URL{Scheme: "s3", Bucket: "b", Key: "a"}, str: "s3://b/a"},
		{name: "s3 inner slashes kept", in: "s3://b/a//b", want: URL{Scheme: "s3", Bucket: "b", Key: "a//b"}},
		{name: "s3 dots in bucket", in: "s3://my.bucket-1/x", want: URL{Scheme: "s3", Bucket: "my.bucket-1", Key: "x"}},
		{name: "s3 key with spaces", in: "s3://b/a b/c%20d", want: URL{Scheme: "s3", Bucket: "b", Key: "a b/c%20d"}},
		{name: "file URL", in: "file:///abs/path", want: URL{Scheme: "file", Path: "/abs/path"}, str: "/abs/path"},
		{name: "file URL localhost", in: "file://localhost/abs", want: URL{Scheme: "file", Path: "/abs"}, str: "/abs"},
		{name: "file URL cleaned", in: "file:///a/./b/../c/", want: URL{Scheme: "file", Path: "/a/c"}, str: "/a/c"},
		{name: "file URL root", in: "file:///", want: URL{Scheme: "file", Path: "/"}, str: "/"},
		{name: "absolute path", in: "/data/x.nwb", want: URL{Scheme: "file", Path: "/data/x.nwb"}},
		{name: "relative path", in: "results/out", want: URL{Scheme: "file", Path: "results/out"}},
		{name: "relative path cleaned", in: "./results//out/", want: URL{Scheme: "file", Path: "results/out"}, str: "results/out"},
		{name: "dot", in: ".", want: URL{Scheme: "file", Path: "."}},
		{name: "parent", in: "../x", want: URL{Scheme: "file", Path: "../x"}},
		{name: "colon in path", in: "a:b", want: URL{Scheme: "file", Path: "a:b"}},
		{name: "path that looks like an URL", in: "./gs://x", want: URL{Scheme: "file", Path: "gs:/x"}, str: "./gs:/x"},
		{name: "path that starts with s3:", in: "./s3:x", want: URL{Scheme: "file", Path: "s3:x"}, str: "./s3:x"},

		{name: "empty", in: "", wantErr: "storage URL: empty"},
		{name: "s3 missing bucket", in: "s3://", wantErr: `storage URL "s3://": missing bucket`},
		{name: "s3 missing bucket with key", in: "s3:///k", wantErr: `storage URL "s3:///k": missing bucket`},
		{name: "s3 bad bucket", in: "s3://b?x/k", wantErr: `storage URL "s3://b?x/k": invalid bucket name "b?x"`},
		{name: "s3 one slash", in: "s3:/b/k", wantErr: `storage URL "s3:/b/k": malformed s3 URL`},
		{name: "s3 no slash", in: "s3:b/k", wantErr: `storage URL "s3:b/k": malformed s3 URL`},
		{name: "S3 upper case", in: "S3://b/k", wantErr: `unsupported scheme "S3"`},
		{name: "gs", in: "gs://b/k", wantErr: `storage URL "gs://b/k": unsupported scheme "gs"`},
		{name: "http", in: "http://host/x", wantErr: `unsupported scheme "http"`},
		{name: "https", in: "https://host/x", wantErr: `unsupported scheme "https"`},
		{name: "file with host", in: "file://host/x", wantErr: `storage URL "file://host/x": a file URL needs an absolute path`},
		{name: "file relative", in: "file://x", wantErr: "a file URL needs an absolute path"},
		{name: "file empty", in: "file://", wantErr: "a file URL needs an absolute path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Parse(%q) = %+v, want error containing %q", tt.in, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			wantStr := tt.str
			if wantStr == "" {
				wantStr = tt.in
			}
			if s := got.String(); s != wantStr {
				t.Errorf("String() = %q, want %q", s, wantStr)
			}
			back, err := Parse(got.String())
			if err != nil || back != got {
				t.Errorf("Parse(String()) = %+v, %v; want %+v", back, err, got)
			}
			if got.IsS3() != (tt.want.Scheme == "s3") || got.IsLocal() == got.IsS3() {
				t.Errorf("IsS3() = %v, IsLocal() = %v for %+v", got.IsS3(), got.IsLocal(), got)
			}
		})
	}
}

func TestJoin(t *testing.T) {
	tests := []struct {
		name string
		base string
		elem []string
		want string
	}{
		{name: "s3 key", base: "s3://b/a", elem: []string{"c", "d.txt"}, want: "s3://b/a/c/d.txt"},
		{name: "s3 bucket root", base: "s3://b", elem: []string{"x"}, want: "s3://b/x"},
		{name: "s3 nothing", base: "s3://b/a", elem: nil, want: "s3://b/a"},
		{name: "s3 empty to root", base: "s3://b", elem: []string{""}, want: "s3://b"},
		{name: "s3 element with slashes", base: "s3://b/a", elem: []string{"x/y", "z"}, want: "s3://b/a/x/y/z"},
		{name: "s3 trailing slash dropped", base: "s3://b/a", elem: []string{"x/"}, want: "s3://b/a/x"},
		// Keys are opaque: nothing is cleaned (a cleaned key names another object).
		{name: "s3 double slash in base kept", base: "s3://b/p//asset", elem: []string{"w.nwb"}, want: "s3://b/p//asset/w.nwb"},
		{name: "s3 double slash in element kept", base: "s3://b/a", elem: []string{"x//y"}, want: "s3://b/a/x//y"},
		{name: "s3 dot kept", base: "s3://b/a", elem: []string{"./x"}, want: "s3://b/a/./x"},
		{name: "s3 dotdot kept", base: "s3://b/a/b", elem: []string{"..", "c"}, want: "s3://b/a/b/../c"},
		{name: "s3 leading slash of a key kept", base: "s3://b//a", elem: []string{"x"}, want: "s3://b//a/x"},
		{name: "local absolute", base: "/data", elem: []string{"a", "b.nwb"}, want: "/data/a/b.nwb"},
		{name: "local relative", base: "out", elem: []string{"x"}, want: "out/x"},
		{name: "local dot", base: ".", elem: []string{"x"}, want: "x"},
		{name: "local file URL", base: "file:///data", elem: []string{"x/", "y"}, want: "/data/x/y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MustParse(tt.base).Join(tt.elem...)
			if got.String() != tt.want {
				t.Fatalf("Join(%q, %q) = %q, want %q", tt.base, tt.elem, got, tt.want)
			}
			if back := MustParse(got.String()); back != got {
				t.Fatalf("Join result does not round-trip: %+v vs %+v", got, back)
			}
		})
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("MustParse(\"gs://x\") did not panic")
		}
	}()
	MustParse("gs://x")
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"s3://b/k", "s3://b", "s3://b/", "s3://b/a//b/", "s3://", "file:///a/b", "file://localhost/x",
		"/abs/path", "rel/path", "./s3:x", "./gs://x", "gs://b", "a:b", ".", "..", "s3:/x", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := Parse(s)
		if err != nil {
			if !strings.Contains(err.Error(), "storage URL") {
				t.Fatalf("Parse(%q) error %q does not say what it parsed", s, err)
			}
			return
		}
		str := u.String()
		back, err := Parse(str)
		if err != nil {
			t.Fatalf("Parse(%q) = %+v, but Parse(%q) fails: %v", s, u, str, err)
		}
		if back != u {
			t.Fatalf("round trip of %q: %+v -> %q -> %+v", s, u, str, back)
		}
		if back.String() != str {
			t.Fatalf("String not stable: %q -> %q", str, back.String())
		}
		switch u.Scheme {
		case SchemeS3:
			if u.Bucket == "" || strings.HasSuffix(u.Key, "/") || u.Path != "" {
				t.Fatalf("Parse(%q) = %+v: bad s3 URL", s, u)
			}
		case SchemeFile:
			if u.Path == "" || u.Bucket != "" || u.Key != "" {
				t.Fatalf("Parse(%q) = %+v: bad file URL", s, u)
			}
		default:
			t.Fatalf("Parse(%q) = %+v: unknown scheme", s, u)
		}
	})
}
