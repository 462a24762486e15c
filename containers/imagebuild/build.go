package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Paths and values both the images and the checks use.
const (
	source       = "https://github.com/allenneuraldynamics/aind-analysis-go"
	certFile     = "/etc/ssl/certs/ca-certificates.crt"
	toolsPath    = "/usr/local/bin:/bin"
	labelPrefix  = "org.opencontainers.image."
	debianPrefix = "org.allenneuraldynamics.debian."
)

// imageSpec is one image: its layers (a directory tree each, bottom first) and its config,
// what a Dockerfile FROM scratch with one ADD or COPY per layer would make.
type imageSpec struct {
	name        string   // repository name, tagged :<version> and :latest
	layers      []string // directories, each packed into one layer
	createdBy   []string // the history line of each layer
	env         []string
	entrypoint  []string
	cmd         []string
	title, desc string
	labels      map[string]string // beyond the OCI ones
}

func runBuild(args []string) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	out := fs.String("out", "dist/images", "directory for the docker-archive tarballs <image>.tar")
	version := fs.String("version", "dev", "image tag and org.opencontainers.image.version")
	revision := fs.String("revision", "unknown", "full commit: org.opencontainers.image.revision and AIND_IMAGE_REVISION")
	created := fs.String("created", "", "RFC 3339 creation time (default: SOURCE_DATE_EPOCH, or now)")
	arch := fs.String("arch", "amd64", "GOARCH of the binaries: the images' architecture")
	toolsBase := fs.String("tools-base", "", "tree of aind-tools' base layer (bash, busybox and applet links, /etc, certificates, /tmp, /root)")
	toolsBin := fs.String("tools-bin", "", "tree of aind-tools' binaries layer (usr/local/bin/aind and its links)")
	wrapperCerts := fs.String("wrapper-certs", "", "tree of aind-wrapper's certificates layer (etc/ssl/certs/ca-certificates.crt)")
	wrapperBin := fs.String("wrapper-bin", "", "tree of aind-wrapper's binary layer (usr/local/bin/aind-wrapper)")
	bashVersion := fs.String("bash-static-version", "", "Debian version of bash-static (label)")
	busyboxVersion := fs.String("busybox-static-version", "", "Debian version of busybox-static (label)")
	caVersion := fs.String("ca-certificates-version", "", "Debian version of ca-certificates (label)")
	release := fs.String("debian-release", "", "Debian release the packages are from (label)")
	maxMB := fs.Int("max-size-mb", 40, "fail when aind-tools is this many MB (10^6 bytes) or more, uncompressed; 0: no limit")
	verbose := fs.Bool("v", false, "print each layer's digest and sizes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for flagName, v := range map[string]string{"tools-base": *toolsBase, "tools-bin": *toolsBin,
		"wrapper-certs": *wrapperCerts, "wrapper-bin": *wrapperBin} {
		if v == "" {
			return fmt.Errorf("build: -%s is required", flagName)
		}
	}
	when, err := createdTime(*created)
	if err != nil {
		return err
	}
	specs := []imageSpec{{
		name:      "aind-tools",
		layers:    []string{*toolsBase, *toolsBin},
		createdBy: []string{"ADD base.tar / # bash-static, busybox-static and applets, rootfs/, CA bundle", "COPY bin/ /usr/local/bin/ # aind and its links"},
		env: []string{"PATH=" + toolsPath, "SSL_CERT_FILE=" + certFile,
			"AIND_IMAGE_REVISION=" + *revision},
		cmd:   []string{"bash"},
		title: "aind-tools",
		desc:  "Nextflow task image: aind-dispatch, aind-wrapper, bash and busybox (ps, awk, sed, ...) on scratch",
		labels: map[string]string{
			debianPrefix + "release":         *release,
			debianPrefix + "bash-static":     *bashVersion,
			debianPrefix + "busybox-static":  *busyboxVersion,
			debianPrefix + "ca-certificates": *caVersion,
		},
	}, {
		name:       "aind-wrapper",
		layers:     []string{*wrapperCerts, *wrapperBin},
		createdBy:  []string{"COPY ca-certificates.crt " + certFile, "COPY aind-wrapper /usr/local/bin/aind-wrapper"},
		env:        []string{"SSL_CERT_FILE=" + certFile, "AIND_IMAGE_REVISION=" + *revision},
		entrypoint: []string{"/usr/local/bin/aind-wrapper"},
		cmd:        []string{"--help"},
		title:      "aind-wrapper",
		desc:       "Static aind-wrapper and CA certificates, to COPY --from= into an analysis image",
		labels:     map[string]string{debianPrefix + "ca-certificates": *caVersion},
	}}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	var tooBig error
	for _, s := range specs {
		img, err := s.image(*version, *revision, *arch, when)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		path := filepath.Join(*out, s.name+".tar")
		if err := writeArchive(path, img, s.name+":"+*version, s.name+":latest"); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		size, compressed, err := imageSize(img)
		if err != nil {
			return err
		}
		fmt.Printf("%-40s %6.1f MB (%d bytes; %.1f MB compressed) %s\n", s.name+":"+*version,
			float64(size)/1e6, size, float64(compressed)/1e6, path)
		if *verbose {
			if err := printLayers(img); err != nil {
				return err
			}
		}
		if s.name == "aind-tools" && *maxMB > 0 && size >= int64(*maxMB)*1e6 {
			tooBig = fmt.Errorf("aind-tools:%s is %.1f MB (%d bytes), not under %d MB", *version, float64(size)/1e6, size, *maxMB)
		}
	}
	return tooBig
}

// printLayers prints the digest, compressed size and history line of each layer of img.
func printLayers(img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	for i, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		n, err := l.Size()
		if err != nil {
			return err
		}
		by := ""
		if i < len(cf.History) {
			by = cf.History[i].CreatedBy
		}
		fmt.Printf("  layer %d %s %8.1f MB compressed  %s\n", i, d, float64(n)/1e6, by)
	}
	return nil
}

// image assembles the image of s: its layers on empty (scratch), then its config.
func (s imageSpec) image(version, revision, arch string, created time.Time) (v1.Image, error) {
	adds := make([]mutate.Addendum, len(s.layers))
	for i, dir := range s.layers {
		layer, _, err := dirLayer(dir)
		if err != nil {
			return nil, err
		}
		adds[i] = mutate.Addendum{Layer: layer, History: v1.History{
			Created: v1.Time{Time: created}, CreatedBy: s.createdBy[i], Comment: "aind imagebuild"}}
	}
	img, err := mutate.Append(empty.Image, adds...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", arch, v1.Time{Time: created}
	labels := map[string]string{
		labelPrefix + "source":      source,
		labelPrefix + "revision":    revision,
		labelPrefix + "version":     version,
		labelPrefix + "created":     created.Format(time.RFC3339),
		labelPrefix + "title":       s.title,
		labelPrefix + "description": s.desc,
	}
	for k, v := range s.labels {
		labels[k] = v
	}
	cf.Config = v1.Config{Env: s.env, Entrypoint: s.entrypoint, Cmd: s.cmd, Labels: labels}
	return mutate.ConfigFile(img, cf)
}

// createdTime is the image's creation time: the RFC 3339 value if given, else
// SOURCE_DATE_EPOCH (seconds since 1970) if set, else now; in UTC, whole seconds.
func createdTime(value string) (time.Time, error) {
	if value != "" {
		t, err := time.Parse(time.RFC3339, value)
		if err != nil {
			return t, fmt.Errorf("-created: %w", err)
		}
		return t.UTC(), nil
	}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		var sec int64
		if _, err := fmt.Sscan(s, &sec); err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: %w", s, err)
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	return time.Now().UTC().Truncate(time.Second), nil
}

// writeArchive writes img to path as a docker-archive tarball (what `docker save` writes,
// and `docker load` and `podman load` read) tagged with each tag, through a temp file.
func writeArchive(path string, img v1.Image, tags ...string) error {
	refs := map[name.Reference]v1.Image{}
	for _, t := range tags {
		tag, err := name.NewTag(t)
		if err != nil {
			return err
		}
		refs[tag] = img
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tarball.MultiRefWrite(refs, tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// imageSize is the sum of the layers' uncompressed sizes (what `docker image inspect -f
// '{{.Size}}'` reports for an image FROM scratch) and of their compressed sizes (what a
// pull transfers).
func imageSize(img v1.Image) (size, compressed int64, err error) {
	layers, err := img.Layers()
	if err != nil {
		return 0, 0, err
	}
	for _, l := range layers {
		c, err := l.Size()
		if err != nil {
			return 0, 0, err
		}
		rc, err := l.Uncompressed()
		if err != nil {
			return 0, 0, err
		}
		n, err := countBytes(rc)
		if err != nil {
			return 0, 0, err
		}
		size += n
		compressed += c
	}
	return size, compressed, nil
}

// countBytes reads rc to its end, closes it and returns how many bytes it held.
func countBytes(rc io.ReadCloser) (int64, error) {
	defer rc.Close()
	return io.Copy(io.Discard, rc)
}
