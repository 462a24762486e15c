package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// checker runs named checks, prints "ok" or "FAIL" and the reason for each, and remembers
// the failures, as containers/check always has.
type checker struct{ failed []string }

func (c *checker) check(name string, err error) {
	if err == nil {
		fmt.Printf("ok    %s\n", name)
		return
	}
	fmt.Printf("FAIL  %s\n", name)
	for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
		fmt.Printf("      | %s\n", line)
	}
	c.failed = append(c.failed, name)
}

// errs joins the non-nil errors into one, one per line, or returns nil.
func errs(list ...error) error {
	var msgs []string
	for _, err := range list {
		if err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(msgs, "\n"))
}

// ociLabels are the labels both images carry.
var ociLabels = []string{"source", "revision", "version", "title", "description", "created"}

// rfc3339 is what org.opencontainers.image.created must look like.
var rfc3339 = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$`)

func runCheck(args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	dir := fs.String("dir", "dist/images", "directory holding aind-tools.tar and aind-wrapper.tar")
	version := fs.String("version", "", "the version the images must carry (default: whatever aind-tools says)")
	appletsFile := fs.String("applets", "containers/busybox-applets", "the busybox applets aind-tools must link")
	rootfs := fs.String("rootfs", "containers/rootfs", "the tree copied verbatim into aind-tools")
	maxMB := fs.Int("max-size-mb", 40, "aind-tools must be under this many MB (10^6 bytes), uncompressed")
	hostExec := fs.Bool("exec", true, "also run the static binaries of the layers on this host (when its architecture matches)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tools, wrapper, err := readImages(*dir)
	if err != nil {
		return err
	}
	tl, wl := tools.cf.Config.Labels, wrapper.cf.Config.Labels
	ver, rev := tl[labelPrefix+"version"], tl[labelPrefix+"revision"]
	arch := tools.cf.Architecture
	fmt.Printf("checking %s and %s (version %s, revision %s, linux/%s), from their layers and config\n",
		tools.path, wrapper.path, ver, rev, arch)
	c := &checker{}

	// --- tags, labels, config ---------------------------------------------------------------
	if *version != "" {
		c.check("the images carry version "+*version, errs(
			equal("aind-tools version label", ver, *version),
			equal("aind-wrapper version label", wl[labelPrefix+"version"], *version)))
	}
	for _, a := range []*archive{tools, wrapper} {
		n := a.cf.Config.Labels[labelPrefix+"title"]
		want := []string{n + ":" + ver, n + ":latest"}
		c.check(n+": tagged :<version> and :latest in the archive", func() error {
			slices.Sort(want)
			if !slices.Equal(a.tags, want) {
				return fmt.Errorf("RepoTags %v, want %v", a.tags, want)
			}
			return nil
		}())
	}
	debian := []string{debianPrefix + "bash-static", debianPrefix + "busybox-static",
		debianPrefix + "release", debianPrefix + "ca-certificates"}
	c.check("aind-tools labels", labelsOK(tl, "aind-tools", debian...))
	c.check("aind-wrapper labels", labelsOK(wl, "aind-wrapper", debianPrefix+"ca-certificates"))
	c.check("aind-wrapper version and revision labels match aind-tools", equal("version and revision",
		wl[labelPrefix+"version"]+" "+wl[labelPrefix+"revision"], ver+" "+rev))
	c.check("aind-tools config: env, cmd [bash], no entrypoint, runs as root by default, linux/"+arch, errs(
		equal("Env", strings.Join(tools.cf.Config.Env, " "),
			"PATH="+toolsPath+" SSL_CERT_FILE="+certFile+" AIND_IMAGE_REVISION="+rev),
		equal("Cmd", fmt.Sprint(tools.cf.Config.Cmd), "[bash]"),
		equal("Entrypoint", fmt.Sprint(tools.cf.Config.Entrypoint), "[]"),
		equal("User", tools.cf.Config.User, ""),
		equal("OS", tools.cf.OS, "linux")))
	c.check("aind-wrapper config: env, entrypoint aind-wrapper, cmd --help, same platform", errs(
		equal("Env", strings.Join(wrapper.cf.Config.Env, " "),
			"SSL_CERT_FILE="+certFile+" AIND_IMAGE_REVISION="+rev),
		equal("Entrypoint", fmt.Sprint(wrapper.cf.Config.Entrypoint), "[/usr/local/bin/aind-wrapper]"),
		equal("Cmd", fmt.Sprint(wrapper.cf.Config.Cmd), "[--help]"),
		equal("User", wrapper.cf.Config.User, ""),
		equal("platform", wrapper.cf.OS+"/"+wrapper.cf.Architecture, "linux/"+arch)))

	// --- aind-tools' files --------------------------------------------------------------------
	tfs, err := flatten(tools.img)
	if err != nil {
		return fmt.Errorf("aind-tools: %w", err)
	}
	wfs, err := flatten(wrapper.img)
	if err != nil {
		return fmt.Errorf("aind-wrapper: %w", err)
	}
	c.check("both images: every entry owned 0:0, mtime 0 (reproducible layers)", errs(normalised(tfs, "aind-tools"), normalised(wfs, "aind-wrapper")))
	c.check("aind-tools: every symbolic link resolves inside the image", linksResolve(tfs))
	c.check("aind-tools: /bin/bash and /bin/busybox are static ELF executables, mode 0755", errs(
		staticAt(tfs, "/bin/bash", arch), staticAt(tfs, "/bin/busybox", arch)))
	applets, err := readApplets(*appletsFile)
	if err != nil {
		return err
	}
	rootfsFiles, err := rootfsEntries(*rootfs)
	if err != nil {
		return err
	}
	c.check(fmt.Sprintf("aind-tools: every listed applet (%d, incl. ps, awk, sed, date, tail) is /bin/NAME -> busybox, or a rootfs/ file", len(applets)), func() error {
		var list []error
		for _, a := range applets {
			p := "/bin/" + a
			if _, ok := rootfsFiles[p]; ok {
				continue // rootfs/ takes precedence (tail); compared below
			}
			list = append(list, tfs.link(p, "busybox"))
		}
		return errs(list...)
	}())
	c.check("aind-tools: /bin/sh -> busybox, /usr/bin/env -> /bin/busybox", errs(
		tfs.link("/bin/sh", "busybox"), tfs.link("/usr/bin/env", "/bin/busybox")))
	c.check("aind-tools: rootfs/ files verbatim, with their modes (bin/tail shim with --pid, etc/passwd, etc/group)", func() error {
		var list []error
		for p, want := range rootfsFiles {
			e, err := tfs.regular(p, want.mode)
			if err == nil && !bytes.Equal(e.data, want.data) {
				err = fmt.Errorf("%s differs from containers/rootfs%s", p, p)
			}
			list = append(list, err)
		}
		if e, ok := tfs["/bin/tail"]; ok && !bytes.Contains(e.data, []byte("--pid=*)")) {
			list = append(list, fmt.Errorf("/bin/tail does not handle --pid"))
		}
		if e, ok := tfs["/bin/tail"]; ok && !bytes.HasPrefix(e.data, []byte("#!/bin/bash\n")) {
			list = append(list, fmt.Errorf("/bin/tail does not start with #!/bin/bash"))
		}
		return errs(list...)
	}())
	c.check("aind-tools: /tmp 1777, /root 0700, /etc/passwd and /etc/group have root and nobody (65534), CA bundle", errs(
		tfs.dir("/tmp", 01777), tfs.dir("/root", 0o700), tfs.dir("/bin", 0o755), tfs.dir("/etc", 0o755),
		hasLines(tfs, "/etc/passwd", "root:x:0:0:", "nobody:x:65534:65534:"),
		hasLines(tfs, "/etc/group", "root:x:0:", "nobody:x:65534:"),
		caBundle(tfs)))
	c.check("aind-tools: /usr/local/bin holds the static aind (0755) and links aind-dispatch, aind-wrapper, aind-results -> aind", errs(
		staticAt(tfs, "/usr/local/bin/aind", arch),
		tfs.link("/usr/local/bin/aind-dispatch", "aind"),
		tfs.link("/usr/local/bin/aind-wrapper", "aind"),
		tfs.link("/usr/local/bin/aind-results", "aind"),
		equal("/usr/local/bin", strings.Join(children(tfs, "/usr/local/bin"), " "), "aind aind-dispatch aind-results aind-wrapper")))

	// --- aind-wrapper's files -----------------------------------------------------------------
	c.check("aind-wrapper: holds only aind-wrapper and the CA bundle", equal("files",
		strings.Join(paths(wfs), " "),
		"/etc /etc/ssl /etc/ssl/certs /etc/ssl/certs/ca-certificates.crt /usr /usr/local /usr/local/bin /usr/local/bin/aind-wrapper"))
	c.check("aind-wrapper: /usr/local/bin/aind-wrapper is a static ELF executable, 0755; CA bundle 0644", errs(
		staticAt(wfs, "/usr/local/bin/aind-wrapper", arch), caBundle(wfs)))

	// --- the drop-in: COPY --from=aind-wrapper into another image -------------------------------
	c.check("drop-in: aind-tools + a COPY --from=aind-wrapper layer has the static aind-wrapper over the link", func() error {
		img, err := dropinImage(tools.img, wrapper.img)
		if err != nil {
			return err
		}
		dfs, err := flatten(img)
		if err != nil {
			return err
		}
		e, err := dfs.regular("/usr/local/bin/aind-wrapper", 0o755)
		if err != nil {
			return err
		}
		if !bytes.Equal(e.data, wfs["/usr/local/bin/aind-wrapper"].data) {
			return fmt.Errorf("/usr/local/bin/aind-wrapper is not aind-wrapper's")
		}
		return staticELF(e.data, arch)
	}())

	// --- the static binaries, run on this host (no container runtime involved) -----------------
	if *hostExec && arch == runtime.GOARCH && runtime.GOOS == "linux" {
		hostChecks(c, tfs, wfs, ver, applets)
	} else {
		fmt.Printf("(not running the layers' binaries: images are linux/%s, this is %s/%s, or -exec=false)\n", arch, runtime.GOOS, runtime.GOARCH)
	}

	// --- sizes --------------------------------------------------------------------------------
	for _, a := range []*archive{tools, wrapper} {
		size, compressed, err := imageSize(a.img)
		if err != nil {
			return err
		}
		n := a.cf.Config.Labels[labelPrefix+"title"]
		fmt.Printf("%-40s %6.1f MB (%d bytes; %.1f MB compressed)\n", n+":"+ver, float64(size)/1e6, size, float64(compressed)/1e6)
		if n == "aind-tools" {
			var err error
			if size >= int64(*maxMB)*1e6 {
				err = fmt.Errorf("%.1f MB (%d bytes)", float64(size)/1e6, size)
			}
			c.check(fmt.Sprintf("aind-tools is under %d MB", *maxMB), err)
		}
	}
	if len(c.failed) > 0 {
		return fmt.Errorf("%d failed:\n  %s", len(c.failed), strings.Join(c.failed, "\n  "))
	}
	fmt.Println("layer checks: all passed")
	return nil
}

// hostChecks copies the layers' static binaries (with aind's links, by the names they are
// called by) to a temp dir and runs them on this host: the version stamp and the multi-call
// dispatch of aind, and that busybox has every listed applet and bash is bash.
func hostChecks(c *checker, tfs, wfs flatFS, version string, applets []string) {
	dir, err := os.MkdirTemp("", "aind-imagecheck-")
	if err != nil {
		c.check("host exec: temp dir", err)
		return
	}
	defer os.RemoveAll(dir)
	put := func(fsys flatFS, from, to string) string {
		e, _, err := fsys.resolve(from)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, to), e.data, 0o755)
		}
		if err != nil {
			c.check("host exec: extract "+from, err)
		}
		return filepath.Join(dir, to)
	}
	for _, n := range []string{"aind-dispatch", "aind-wrapper", "aind-results"} {
		put(tfs, "/usr/local/bin/"+n, n) // copies: aind picks the tool by argv[0]'s base name
	}
	wrapperBin := filepath.Join(dir, "w", "aind-wrapper")
	if err := os.Mkdir(filepath.Dir(wrapperBin), 0o755); err == nil {
		put(wfs, "/usr/local/bin/aind-wrapper", "w/aind-wrapper")
	}
	bash, busybox := put(tfs, "/bin/bash", "bash"), put(tfs, "/bin/busybox", "busybox")
	run := func(bin string, args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"PATH=/nonexistent", "HOME=" + dir}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return string(out), fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, tail(string(out)))
		}
		return strings.TrimSpace(string(out)), nil
	}
	expect := func(want string, bin string, args ...string) error {
		out, err := run(bin, args...)
		if err != nil {
			return err
		}
		return equal(filepath.Base(bin)+" "+strings.Join(args, " "), out, want)
	}
	succeeds := func(bin string, args ...string) error { _, err := run(bin, args...); return err }
	at := func(n string) string { return filepath.Join(dir, n) }
	c.check("aind-tools (host exec): aind-dispatch --version, aind-wrapper --version print "+version, errs(
		expect(version, at("aind-dispatch"), "--version"), expect(version, at("aind-wrapper"), "--version")))
	c.check("aind-tools (host exec): every /usr/local/bin tool runs --help", errs(
		succeeds(at("aind-dispatch"), "--help"), succeeds(at("aind-wrapper"), "--help"), succeeds(at("aind-results"), "--help")))
	c.check("aind-wrapper (host exec): aind-wrapper --version, --help, run --parse-only", errs(
		expect(version, wrapperBin, "--version"), succeeds(wrapperBin, "--help"),
		succeeds(wrapperBin, "run", "--parse-only", "--", "python", "/code/analyse.py")))
	c.check("aind-tools (host exec): bash is GNU bash, busybox has every listed applet", func() error {
		out, err := run(bash, "-c", `echo "$BASH_VERSION"`)
		if err != nil {
			return err
		}
		if !regexp.MustCompile(`^[0-9]+\.[0-9]+`).MatchString(out) {
			return fmt.Errorf("bash printed BASH_VERSION %q", out)
		}
		list, err := run(busybox, "--list")
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for _, a := range strings.Fields(list) {
			have[a] = true
		}
		var missing []string
		for _, a := range applets {
			if !have[a] {
				missing = append(missing, a)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("busybox has no applet %v", missing)
		}
		return nil
	}())
}

// equal returns an error naming what if got is not want.
func equal(what, got, want string) error {
	if got != want {
		return fmt.Errorf("%s: got %q, want %q", what, got, want)
	}
	return nil
}

// labelsOK checks that the OCI labels and extra are set, that created is RFC 3339, source is
// this repository and title is title.
func labelsOK(labels map[string]string, title string, extra ...string) error {
	var missing []string
	for _, l := range ociLabels {
		if labels[labelPrefix+l] == "" {
			missing = append(missing, labelPrefix+l)
		}
	}
	for _, l := range extra {
		if labels[l] == "" {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing or empty: %s", strings.Join(missing, " "))
	}
	if v := labels[labelPrefix+"created"]; !rfc3339.MatchString(v) {
		return fmt.Errorf("created %q is not RFC 3339", v)
	}
	return errs(equal("source", labels[labelPrefix+"source"], source),
		equal("title", labels[labelPrefix+"title"], title))
}

// normalised checks every entry is owned by 0:0 with mtime 0.
func normalised(fsys flatFS, image string) error {
	var bad []string
	for _, p := range paths(fsys) {
		h := fsys[p].hdr
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(epoch) {
			bad = append(bad, fmt.Sprintf("%s: %s uid %d gid %d mtime %s", image, p, h.Uid, h.Gid, h.ModTime.UTC().Format(time.RFC3339)))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "\n"))
	}
	return nil
}

// linksResolve checks that every symbolic link ends at a file or directory of the image.
func linksResolve(fsys flatFS) error {
	var list []error
	for _, p := range paths(fsys) {
		if fsys[p].hdr.Typeflag == tar.TypeSymlink {
			_, _, err := fsys.resolve(p)
			if err != nil {
				err = fmt.Errorf("%s -> %s: %w", p, fsys[p].hdr.Linkname, err)
			}
			list = append(list, err)
		}
	}
	return errs(list...)
}

// staticAt checks that p is a regular 0755 file and a static ELF executable for arch.
func staticAt(fsys flatFS, p, arch string) error {
	e, err := fsys.regular(p, 0o755)
	if err != nil {
		return err
	}
	if err := staticELF(e.data, arch); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// hasLines checks the text file p has a line starting with each prefix.
func hasLines(fsys flatFS, p string, prefixes ...string) error {
	e, err := fsys.regular(p, 0o644)
	if err != nil {
		return err
	}
	var missing []string
	for _, pre := range prefixes {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(pre)).Match(e.data) {
			missing = append(missing, pre)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s has no line starting %q", p, missing)
	}
	return nil
}

// caBundle checks the CA bundle is a 0644 file of more than 50 certificates.
func caBundle(fsys flatFS) error {
	e, err := fsys.regular(certFile, 0o644)
	if err != nil {
		return err
	}
	if n := bytes.Count(e.data, []byte("BEGIN CERTIFICATE")); n <= 50 {
		return fmt.Errorf("%s holds %d certificates", certFile, n)
	}
	return nil
}

// paths is every path of fsys, sorted.
func paths(fsys flatFS) []string {
	list := make([]string, 0, len(fsys))
	for p := range fsys {
		list = append(list, p)
	}
	sort.Strings(list)
	return list
}

// children is the names of the entries directly in dir, sorted.
func children(fsys flatFS, dir string) []string {
	var list []string
	for p := range fsys {
		if path.Dir(p) == dir && p != dir {
			list = append(list, path.Base(p))
		}
	}
	sort.Strings(list)
	return list
}

// readApplets reads the busybox-applets list: one name a line, # starts a comment.
func readApplets(file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var list []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			list = append(list, line)
		}
	}
	return list, sc.Err()
}

// rootfsFile is one regular file of containers/rootfs, with the mode containers/build gives
// it (0755 if executable by its owner, else 0644).
type rootfsFile struct {
	data []byte
	mode int64
}

// rootfsEntries reads the regular files under root, keyed by their path in the image.
func rootfsEntries(root string) (map[string]rootfsFile, error) {
	files := map[string]rootfsFile{}
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || !info.Mode().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		mode := int64(0o644)
		if info.Mode()&0o100 != 0 {
			mode = 0o755
		}
		files["/"+filepath.ToSlash(rel)] = rootfsFile{data, mode}
		return nil
	})
	return files, err
}

// tail is the last 15 lines of s.
func tail(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}
