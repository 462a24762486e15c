package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// tree writes a small file tree: a sticky 1777 dir, a 0700 dir, an executable, a text file
// and a relative link.
func tree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"bin", "tmp", "root", "etc"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	must(t, os.Chmod(filepath.Join(root, "tmp"), 0o777|os.ModeSticky))
	must(t, os.Chmod(filepath.Join(root, "root"), 0o700))
	must(t, os.WriteFile(filepath.Join(root, "bin", "tool"), []byte("#!/bin/sh\n"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644))
	must(t, os.Symlink("tool", filepath.Join(root, "bin", "alias")))
	return root
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestDirLayerIsReproducibleAndNormalised(t *testing.T) {
	root := tree(t)
	l1, data, err := dirLayer(root)
	must(t, err)
	// New mtimes on every file: the layer must not change.
	later := time.Now().Add(time.Hour)
	must(t, filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, later, later)
	}))
	l2, _, err := dirLayer(root)
	must(t, err)
	d1, err := l1.Digest()
	must(t, err)
	d2, err := l2.Digest()
	must(t, err)
	if d1 != d2 {
		t.Errorf("layer digest changed with mtimes: %s then %s", d1, d2)
	}

	var names []string
	tr := tar.NewReader(bytes.NewReader(data))
	modes := map[string]int64{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		names = append(names, h.Name)
		modes[h.Name] = h.Mode
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || !h.ModTime.Equal(epoch) {
			t.Errorf("%s: uid %d gid %d %q:%q mtime %v, want 0:0, no names, mtime 0", h.Name, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime)
		}
		if h.Name == "bin/alias" && (h.Typeflag != tar.TypeSymlink || h.Linkname != "tool") {
			t.Errorf("bin/alias: type %q -> %q, want a link to tool", h.Typeflag, h.Linkname)
		}
	}
	want := "bin/ bin/alias bin/tool etc/ etc/passwd root/ tmp/"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("entries %q, want %q (sorted, no ./)", got, want)
	}
	for name, mode := range map[string]int64{"tmp/": 01777, "root/": 0o700, "bin/tool": 0o755, "etc/passwd": 0o644} {
		if modes[name] != mode {
			t.Errorf("%s: mode %04o, want %04o", name, modes[name], mode)
		}
	}
}

func TestFlattenAppliesLayersInOrder(t *testing.T) {
	root := tree(t)
	base, _, err := dirLayer(root)
	must(t, err)
	top := t.TempDir()
	must(t, os.Mkdir(filepath.Join(top, "bin"), 0o755))
	must(t, os.WriteFile(filepath.Join(top, "bin", "alias"), []byte("a file now"), 0o755))
	upper, _, err := dirLayer(top)
	must(t, err)
	img, err := mutate.AppendLayers(empty.Image, base, upper)
	must(t, err)
	fsys, err := flatten(img)
	must(t, err)
	e, err := fsys.regular("/bin/alias", 0o755)
	must(t, err)
	if string(e.data) != "a file now" || e.layer != 1 {
		t.Errorf("/bin/alias: %q from layer %d, want the upper layer's file", e.data, e.layer)
	}
	must(t, fsys.dir("/tmp", 01777))
	if err := fsys.dir("/root", 0o755); err == nil {
		t.Error("dir(/root, 0755) passed on a 0700 directory")
	}
	if err := fsys.link("/bin/tool", "x"); err == nil {
		t.Error("link passed on a regular file")
	}
	if _, _, err := fsys.resolve("/nonexistent"); err == nil {
		t.Error("resolve passed on a missing path")
	}
}

func TestStaticELF(t *testing.T) {
	if err := staticELF([]byte("#!/bin/bash\n"), "amd64"); err == nil {
		t.Error("a script passed as a static ELF executable")
	}
	// Debian's own /bin/ls is dynamically linked: it must be refused, naming the loader.
	data, err := os.ReadFile("/bin/ls")
	if err != nil {
		t.Skip("no /bin/ls here")
	}
	if err := staticELF(data, ""); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("staticELF(/bin/ls) = %v, want a dynamically linked error", err)
	}
}

func TestCreatedTime(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	got, err := createdTime("")
	must(t, err)
	if want := time.Unix(1700000000, 0).UTC(); !got.Equal(want) {
		t.Errorf("createdTime with SOURCE_DATE_EPOCH = %v, want %v", got, want)
	}
	got, err = createdTime("2024-05-01T12:00:00+02:00")
	must(t, err)
	if got.Format(time.RFC3339) != "2024-05-01T10:00:00Z" {
		t.Errorf("createdTime(RFC 3339) = %v, want it in UTC", got)
	}
}

func TestArchiveRoundTrip(t *testing.T) {
	root := tree(t)
	spec := imageSpec{name: "aind-x", layers: []string{root}, createdBy: []string{"ADD"},
		env: []string{"A=b"}, cmd: []string{"bash"}, title: "aind-x", desc: "test"}
	img, err := spec.image("v1", "abc", "amd64", time.Unix(0, 0).UTC())
	must(t, err)
	path := filepath.Join(t.TempDir(), "aind-x.tar")
	must(t, writeArchive(path, img, "aind-x:v1", "aind-x:latest"))
	a, err := readArchive(path)
	must(t, err)
	if got := strings.Join(a.tags, " "); got != "aind-x:latest aind-x:v1" {
		t.Errorf("RepoTags %q", got)
	}
	if err := labelsOK(a.cf.Config.Labels, "aind-x"); err != nil {
		t.Error(err)
	}
	if a.cf.Config.Labels[labelPrefix+"version"] != "v1" || strings.Join(a.cf.Config.Env, " ") != "A=b" {
		t.Errorf("config %+v", a.cf.Config)
	}
	fsys, err := flatten(a.img)
	must(t, err)
	must(t, fsys.link("/bin/alias", "tool"))
}
