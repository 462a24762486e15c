package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// entry is one file of an image's flattened file system: the tar header of the layer that
// last wrote it and, for a regular file, its content.
type entry struct {
	hdr   *tar.Header
	data  []byte
	layer int // index of the layer it comes from
}

// flatFS is an image's file system as a container sees it: every layer applied in order
// (whiteouts honoured), keyed by clean absolute path ("/bin/bash").
type flatFS map[string]*entry

// archive is one docker-archive tarball: the tags it carries (sorted), its image and its
// config.
type archive struct {
	path string
	tags []string
	img  v1.Image
	cf   *v1.ConfigFile
}

// readImages opens the two archives containers/build writes into dir: aind-tools.tar and
// aind-wrapper.tar.
func readImages(dir string) (tools, wrapper *archive, err error) {
	if tools, err = readArchive(filepath.Join(dir, "aind-tools.tar")); err == nil {
		wrapper, err = readArchive(filepath.Join(dir, "aind-wrapper.tar"))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w (run containers/build first)", err)
	}
	return tools, wrapper, nil
}

// readArchive opens the docker-archive tarball at path holding one image.
func readArchive(path string) (*archive, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(path) }
	raw, err := extractFile(opener, "manifest.json")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var m tarball.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: manifest.json: %w", path, err)
	}
	if len(m) != 1 {
		return nil, fmt.Errorf("%s: %d images in manifest.json, want 1", path, len(m))
	}
	a := &archive{path: path, tags: slices.Sorted(slices.Values(m[0].RepoTags))}
	var tag *name.Tag
	if len(a.tags) > 0 {
		t, err := name.NewTag(a.tags[0])
		if err != nil {
			return nil, err
		}
		tag = &t
	}
	if a.img, err = tarball.Image(opener, tag); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if a.cf, err = a.img.ConfigFile(); err != nil {
		return nil, fmt.Errorf("%s: config: %w", path, err)
	}
	return a, nil
}

// extractFile reads the file called name from the top of a tarball.
func extractFile(opener tarball.Opener, name string) ([]byte, error) {
	rc, err := opener()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("no %s", name)
		}
		if err != nil {
			return nil, err
		}
		if path.Clean(hdr.Name) == name {
			return io.ReadAll(tr)
		}
	}
}

// flatten applies img's layers in order, as a container runtime would, and returns the
// resulting file system. Every regular file's content is read into memory (the images are
// tens of MB).
func flatten(img v1.Image) (flatFS, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	fsys := flatFS{}
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, err
		}
		err = func() error {
			defer rc.Close()
			tr := tar.NewReader(rc)
			for {
				hdr, err := tr.Next()
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return fmt.Errorf("layer %d: %w", i, err)
				}
				p := path.Clean("/" + hdr.Name)
				dir, base := path.Split(p)
				if base == ".wh..wh..opq" {
					fsys.removeUnder(path.Clean(dir), false)
					continue
				}
				if strings.HasPrefix(base, ".wh.") {
					fsys.removeUnder(path.Join(dir, strings.TrimPrefix(base, ".wh.")), true)
					continue
				}
				if hdr.Typeflag != tar.TypeDir {
					fsys.removeUnder(p, false) // a file replacing a directory hides its content
				}
				e := &entry{hdr: hdr, layer: i}
				if hdr.Typeflag == tar.TypeReg {
					if e.data, err = io.ReadAll(tr); err != nil {
						return err
					}
				}
				fsys[p] = e
			}
		}()
		if err != nil {
			return nil, err
		}
	}
	return fsys, nil
}

// removeUnder deletes everything below p and, if self, p itself.
func (f flatFS) removeUnder(p string, self bool) {
	for k := range f {
		if (self && k == p) || strings.HasPrefix(k, strings.TrimSuffix(p, "/")+"/") {
			delete(f, k)
		}
	}
}

// resolve follows symbolic links from p (at most 40, like Linux) and returns the entry it
// ends at and its path.
func (f flatFS) resolve(p string) (*entry, string, error) {
	for range 40 {
		e, ok := f[p]
		if !ok {
			return nil, p, fmt.Errorf("%s does not exist", p)
		}
		if e.hdr.Typeflag != tar.TypeSymlink {
			return e, p, nil
		}
		target := e.hdr.Linkname
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(p), target)
		}
		p = path.Clean(target)
	}
	return nil, p, fmt.Errorf("%s: too many levels of symbolic links", p)
}

// regular returns the regular file at p (not following links) if its mode is mode.
func (f flatFS) regular(p string, mode int64) (*entry, error) {
	e, ok := f[p]
	switch {
	case !ok:
		return nil, fmt.Errorf("%s does not exist", p)
	case e.hdr.Typeflag != tar.TypeReg:
		return nil, fmt.Errorf("%s is not a regular file (type %q)", p, e.hdr.Typeflag)
	case e.hdr.Mode&07777 != mode:
		return nil, fmt.Errorf("%s has mode %04o, want %04o", p, e.hdr.Mode&07777, mode)
	}
	return e, nil
}

// link checks that p is a symbolic link to target.
func (f flatFS) link(p, target string) error {
	e, ok := f[p]
	switch {
	case !ok:
		return fmt.Errorf("%s does not exist", p)
	case e.hdr.Typeflag != tar.TypeSymlink:
		return fmt.Errorf("%s is not a symbolic link (type %q)", p, e.hdr.Typeflag)
	case e.hdr.Linkname != target:
		return fmt.Errorf("%s -> %s, want -> %s", p, e.hdr.Linkname, target)
	}
	return nil
}

// dir checks that p is a directory with mode mode.
func (f flatFS) dir(p string, mode int64) error {
	e, ok := f[p]
	switch {
	case !ok:
		return fmt.Errorf("%s does not exist", p)
	case e.hdr.Typeflag != tar.TypeDir:
		return fmt.Errorf("%s is not a directory", p)
	case e.hdr.Mode&07777 != mode:
		return fmt.Errorf("%s has mode %04o, want %04o", p, e.hdr.Mode&07777, mode)
	}
	return nil
}

// elfMachines maps GOARCH to the ELF machine of its executables.
var elfMachines = map[string]elf.Machine{
	"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "386": elf.EM_386, "arm": elf.EM_ARM,
	"ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390, "riscv64": elf.EM_RISCV,
}

// staticELF checks that data is a statically linked ELF executable for arch: no program
// interpreter (PT_INTERP, the dynamic loader a scratch image does not have) and no needed
// shared libraries (DT_NEEDED); static-pie is fine.
func staticELF(data []byte, arch string) error {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not ELF: %w", err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("ELF type %v, not an executable", f.Type)
	}
	if want, ok := elfMachines[arch]; ok && f.Machine != want {
		return fmt.Errorf("ELF machine %v, want %v for %s", f.Machine, want, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			interp, _ := io.ReadAll(p.Open())
			return fmt.Errorf("dynamically linked: PT_INTERP %s", strings.TrimRight(string(interp), "\x00"))
		}
	}
	needed, err := f.DynString(elf.DT_NEEDED)
	if err != nil {
		return fmt.Errorf("reading DT_NEEDED: %w", err)
	}
	if len(needed) > 0 {
		return fmt.Errorf("needs shared libraries %v", needed)
	}
	return nil
}
