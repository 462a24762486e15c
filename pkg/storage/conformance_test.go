package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// conformanceFileSize is the size of PutFile's large file: several parts on S3 when the
// store is built with a 5 MiB part size.
const conformanceFileSize = 20<<20 + 12345

// runConformance checks the Store contract against store, under root, which must be empty.
// Every backend runs it: Local over a temporary directory, S3 over a fresh bucket.
func runConformance(t *testing.T, store Store, root URL) {
	ctx := t.Context()

	put := func(t *testing.T, u URL, content string) {
		t.Helper()
		if err := store.Put(ctx, u, strings.NewReader(content), PutOptions{}); err != nil {
			t.Fatalf("Put %s: %v", u, err)
		}
	}
	read := func(t *testing.T, u URL) string {
		t.Helper()
		rc, err := store.Open(ctx, u)
		if err != nil {
			t.Fatalf("Open %s: %v", u, err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("reading %s: %v", u, err)
		}
		return string(b)
	}
	list := func(t *testing.T, prefix URL) []Object {
		t.Helper()
		var got []Object
		if err := store.List(ctx, prefix, func(o Object) error { got = append(got, o); return nil }); err != nil {
			t.Fatalf("List %s: %v", prefix, err)
		}
		return got
	}
	rels := func(objs []Object) []string {
		var out []string
		for _, o := range objs {
			out = append(out, o.Rel)
		}
		return out
	}
	wantNotFound := func(t *testing.T, what string, u URL, err error) {
		t.Helper()
		switch {
		case err == nil:
			t.Fatalf("%s %s: no error, want not found", what, u)
		case !IsNotFound(err):
			t.Fatalf("%s %s: %v, want IsNotFound", what, u, err)
		case IsExists(err) || fault.IsTransient(err):
			t.Fatalf("%s %s: %v: IsExists or transient too", what, u, err)
		case !strings.Contains(err.Error(), u.String()):
			t.Fatalf("%s %s: error %q does not name the URL", what, u, err)
		}
	}

	// Objects for the listing tests, chosen so that byte-wise key order differs from a
	// directory walk's: "a.txt" < "a/b.txt" because '.' < '/', and "a/c/d.txt" < "ab.txt".
	listRoot := root.Join("list")
	listed := map[string]string{
		"a.b":       "1",
		"a.txt":     "22",
		"a/b.txt":   "333",
		"a/c/d.txt": "4444",
		"ab.txt":    "55555",
		"z":         "666666",
	}
	for rel, content := range listed {
		put(t, listRoot.Join(rel), content)
	}

	t.Run("ListRecursiveInOrder", func(t *testing.T) {
		got := list(t, listRoot)
		want := []string{"a.b", "a.txt", "a/b.txt", "a/c/d.txt", "ab.txt", "z"}
		if g := strings.Join(rels(got), " "); g != strings.Join(want, " ") {
			t.Fatalf("List %s = %q, want %q", listRoot, g, want)
		}
		for _, o := range got {
			if want := listRoot.Join(o.Rel); o.URL != want {
				t.Errorf("object %q: URL %+v, want %+v", o.Rel, o.URL, want)
			}
			if o.Size != int64(len(listed[o.Rel])) {
				t.Errorf("object %q: Size %d, want %d", o.Rel, o.Size, len(listed[o.Rel]))
			}
			if o.ModTime.IsZero() || time.Since(o.ModTime) > time.Hour {
				t.Errorf("object %q: ModTime %v", o.Rel, o.ModTime)
			}
		}
	})
	t.Run("ListPrefixIsAFolder", func(t *testing.T) {
		got := rels(list(t, listRoot.Join("a")))
		if g := strings.Join(got, " "); g != "b.txt c/d.txt" {
			t.Fatalf("List a = %q, want [b.txt c/d.txt] (never a.txt, a.b or ab.txt)", got)
		}
		if got := list(t, listRoot.Join("z")); len(got) != 0 {
			t.Fatalf("List of an object's own URL = %v, want nothing", rels(got))
		}
	})
	t.Run("ListPrefixWithTrailingSlash", func(t *testing.T) {
		u, err := Parse(listRoot.Join("a", "c").String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		if got := rels(list(t, u)); strings.Join(got, " ") != "d.txt" {
			t.Fatalf("List %s = %q, want [d.txt]", u, got)
		}
	})
	t.Run("ListEmptyPrefix", func(t *testing.T) {
		if got := list(t, root.Join("nothing-here")); len(got) != 0 {
			t.Fatalf("List of an empty prefix = %v, want nothing", rels(got))
		}
	})
	t.Run("ListStopsOnError", func(t *testing.T) {
		stop := errors.New("stop here")
		calls := 0
		err := store.List(ctx, listRoot, func(Object) error { calls++; return stop })
		if !errors.Is(err, stop) {
			t.Fatalf("List returned %v, want the callback's error", err)
		}
		if calls != 1 {
			t.Fatalf("callback called %d times after returning an error, want 1", calls)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		missing := root.Join("missing", "object.txt")
		_, err := store.Stat(ctx, missing)
		wantNotFound(t, "Stat", missing, err)
		rc, err := store.Open(ctx, missing)
		if err == nil {
			rc.Close()
		}
		wantNotFound(t, "Open", missing, err)
		// A "folder" (a prefix with objects under it) is not an object.
		folder := listRoot.Join("a")
		_, err = store.Stat(ctx, folder)
		wantNotFound(t, "Stat", folder, err)
		// Nor is a path under an object.
		under := listRoot.Join("z", "x")
		_, err = store.Stat(ctx, under)
		wantNotFound(t, "Stat", under, err)
	})

	t.Run("PutOpenStat", func(t *testing.T) {
		u := root.Join("rt", "deep", "object.json")
		put(t, u, `{"a": 1}`)
		if got := read(t, u); got != `{"a": 1}` {
			t.Fatalf("read back %q", got)
		}
		obj, err := store.Stat(ctx, u)
		if err != nil {
			t.Fatalf("Stat: %v", err)
		}
		if obj.URL != u || obj.Size != 8 || obj.Rel != "object.json" || obj.ModTime.IsZero() {
			t.Fatalf("Stat = %+v", obj)
		}
		put(t, u, "replaced")
		if got := read(t, u); got != "replaced" {
			t.Fatalf("after overwrite read %q", got)
		}
		empty := root.Join("rt", "empty")
		put(t, empty, "")
		if got := read(t, empty); got != "" {
			t.Fatalf("empty object read %q", got)
		}
		if obj, err := store.Stat(ctx, empty); err != nil || obj.Size != 0 {
			t.Fatalf("Stat empty = %+v, %v", obj, err)
		}
		typed := root.Join("rt", "typed.json")
		if err := store.Put(ctx, typed, strings.NewReader("{}"), PutOptions{ContentType: "application/json"}); err != nil {
			t.Fatalf("Put with ContentType: %v", err)
		}
	})

	t.Run("PutIfNotExists", func(t *testing.T) {
		u := root.Join("cond", "manifest.json")
		if err := store.Put(ctx, u, strings.NewReader("first"), PutOptions{IfNotExists: true}); err != nil {
			t.Fatalf("first Put IfNotExists: %v", err)
		}
		err := store.Put(ctx, u, strings.NewReader("second"), PutOptions{IfNotExists: true})
		switch {
		case err == nil:
			t.Fatal("second Put IfNotExists succeeded, want IsExists")
		case !IsExists(err) || IsNotFound(err) || fault.IsTransient(err):
			t.Fatalf("second Put IfNotExists: %v, want IsExists only", err)
		case !strings.Contains(err.Error(), u.String()):
			t.Fatalf("error %q does not name the URL", err)
		}
		if got := read(t, u); got != "first" {
			t.Fatalf("after refused Put the object reads %q, want the original", got)
		}
	})

	t.Run("PutFileLarge", func(t *testing.T) {
		data := make([]byte, conformanceFileSize)
		rng := rand.NewChaCha8([32]byte{1, 2, 3})
		_, _ = rng.Read(data)
		src := filepath.Join(t.TempDir(), "large.bin")
		if err := os.WriteFile(src, data, 0o644); err != nil {
			t.Fatal(err)
		}
		u := root.Join("large", "file.bin")
		if err := store.PutFile(ctx, src, u, PutOptions{IfNotExists: true}); err != nil {
			t.Fatalf("PutFile: %v", err)
		}
		rc, err := store.Open(ctx, u)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("reading back: %v", err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes, not equal to the %d written", len(got), len(data))
		}
		if obj, err := store.Stat(ctx, u); err != nil || obj.Size != int64(len(data)) {
			t.Fatalf("Stat = %+v, %v; want size %d", obj, err, len(data))
		}
		err = store.PutFile(ctx, src, u, PutOptions{IfNotExists: true})
		if !IsExists(err) {
			t.Fatalf("second PutFile IfNotExists: %v, want IsExists", err)
		}
	})

	t.Run("PutFileMissingSource", func(t *testing.T) {
		u := root.Join("never")
		err := store.PutFile(ctx, filepath.Join(t.TempDir(), "no-such-file"), u, PutOptions{})
		if err == nil || IsNotFound(err) || fault.IsTransient(err) {
			t.Fatalf("PutFile of a missing source: %v, want a permanent error that is not IsNotFound", err)
		}
	})

	t.Run("DeleteIdempotent", func(t *testing.T) {
		u := root.Join("del", "x.txt")
		put(t, u, "x")
		for i := range 2 {
			if err := store.Delete(ctx, u); err != nil {
				t.Fatalf("Delete #%d: %v", i+1, err)
			}
		}
		_, err := store.Stat(ctx, u)
		wantNotFound(t, "Stat after Delete", u, err)
		if err := store.Delete(ctx, root.Join("del", "never", "existed")); err != nil {
			t.Fatalf("Delete of a never-existing object: %v", err)
		}
		if got := list(t, root.Join("del")); len(got) != 0 {
			t.Fatalf("List after Delete = %v", rels(got))
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := store.Stat(cctx, listRoot.Join("z"))
		if !errors.Is(err, context.Canceled) || fault.IsTransient(err) || IsNotFound(err) {
			t.Fatalf("Stat with a cancelled context: %v, want context.Canceled, not transient", err)
		}
		if fault.ExitCode(err) != fault.ExitInterrupted {
			t.Fatalf("exit code %d, want %d", fault.ExitCode(err), fault.ExitInterrupted)
		}
		err = store.List(cctx, listRoot, func(Object) error { return nil })
		if !errors.Is(err, context.Canceled) || fault.IsTransient(err) {
			t.Fatalf("List with a cancelled context: %v", err)
		}
		err = store.Put(cctx, root.Join("cancelled"), strings.NewReader("x"), PutOptions{})
		if !errors.Is(err, context.Canceled) || fault.IsTransient(err) {
			t.Fatalf("Put with a cancelled context: %v", err)
		}
		if _, err := store.Stat(ctx, root.Join("cancelled")); !IsNotFound(err) {
			t.Fatalf("a cancelled Put left an object (Stat: %v)", err)
		}
	})
}
