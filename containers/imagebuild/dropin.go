package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// dropinImage is what the README's drop-in Dockerfile makes,
//
//	FROM aind-tools
//	COPY --from=aind-wrapper /usr/local/bin/aind-wrapper /usr/local/bin/
//
// base plus one layer holding wrapper's /usr/local/bin/aind-wrapper (and its parent
// directories, 0755), with base's config.
func dropinImage(base, wrapper v1.Image) (v1.Image, error) {
	wfs, err := flatten(wrapper)
	if err != nil {
		return nil, err
	}
	const p = "/usr/local/bin/aind-wrapper"
	e, err := wfs.regular(p, 0o755)
	if err != nil {
		return nil, fmt.Errorf("aind-wrapper image: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"usr/", "usr/local/", "usr/local/bin/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p[1:], Mode: 0o755, Size: int64(len(e.data)), ModTime: epoch}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(e.data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layer, err := bytesLayer(buf.Bytes())
	if err != nil {
		return nil, err
	}
	return mutate.Append(base, mutate.Addendum{Layer: layer, History: v1.History{
		CreatedBy: "COPY --from=aind-wrapper " + p + " /usr/local/bin/", Comment: "aind imagebuild dropin"}})
}

// runDropin writes the drop-in image (dropinImage of the two archives in -dir) as a
// docker-archive tagged -tag, for the runtime checks to load and run.
func runDropin(args []string) error {
	fs := flag.NewFlagSet("dropin", flag.ContinueOnError)
	dir := fs.String("dir", "dist/images", "directory holding aind-tools.tar and aind-wrapper.tar")
	out := fs.String("out", "", "the tarball to write (default: <dir>/aind-check-dropin.tar)")
	tag := fs.String("tag", "aind-check-dropin:latest", "its tag")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Join(*dir, "aind-check-dropin.tar")
	}
	tools, wrapper, err := readImages(*dir)
	if err != nil {
		return err
	}
	img, err := dropinImage(tools.img, wrapper.img)
	if err != nil {
		return err
	}
	return writeArchive(*out, img, *tag)
}
