package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// epoch is the modification time of every entry of every layer: with owner 0:0 and names in
// order, it makes a layer a function of its files' contents and modes only, so unchanged
// files give the same layer digest on every build.
var epoch = time.Unix(0, 0).UTC()

// dirLayer packs the tree under root into a layer, as `tar --sort=name --owner=0 --group=0
// --numeric-owner --mtime=@0 -C root .` would, less the "./" entry: entries in lexical order
// of their path, owner 0:0 with no names, mtime 0, the permission, setuid, setgid and sticky
// bits of the files on disk, symbolic links kept as links. Regular files, directories and
// symbolic links only. The returned tarball is the layer's uncompressed content.
func dirLayer(root string) (v1.Layer, []byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return err
		}
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		hdr := &tar.Header{
			Name:    filepath.ToSlash(rel),
			Mode:    tarMode(info.Mode()),
			ModTime: epoch,
		}
		switch {
		case info.Mode().IsDir():
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
		case info.Mode()&fs.ModeSymlink != 0:
			hdr.Typeflag = tar.TypeSymlink
			if hdr.Linkname, err = os.Readlink(path); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			hdr.Typeflag = tar.TypeReg
			hdr.Size = info.Size()
		default:
			return fmt.Errorf("%s: not a regular file, directory or symbolic link", path)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err := io.Copy(tw, f)
		if err == nil && n != hdr.Size {
			err = fmt.Errorf("%s changed while being packed", path)
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, nil, err
	}
	data := buf.Bytes()
	layer, err := bytesLayer(data)
	return layer, data, err
}

// bytesLayer is the layer whose uncompressed content is the tarball data.
func bytesLayer(data []byte) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithCompressedCaching)
}

// tarMode is the tar header mode of a file mode: its permission bits plus setuid, setgid
// and sticky (04000, 02000, 01000).
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 04000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 02000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 01000
	}
	return mode
}
