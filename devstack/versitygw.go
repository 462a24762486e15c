package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// versitygwModule and versitygwPackage are what is built: the module's source from the Go
// module proxy, with versitygwPatch applied.
const (
	versitygwModule  = "github.com/versity/versitygw"
	versitygwPackage = versitygwModule + "/cmd/versitygw"
)

// versitygwPatch is the one change made to versitygw's source before it is built. Its
// posix backend answers ListObjectsV2 for a prefix "a/b/" by reading the directory "a/b";
// when that directory does not exist it falls back to walking the whole bucket from its
// root (backend/walk.go, quickWalk), although no key can start with "a/b/" then. A
// wrapper lists every job's prefix <hash>/ before the job has written anything there, so
// each such listing read every result folder of the bucket: 11 ms at 10,000 results, 1 ms
// for a prefix that exists, and growing with the bucket, which S3 does not do (it lists a
// prefix in time of the keys returned). The patch returns the empty listing when the
// directory does not exist. Name is part of the cache path, so a changed patch is built
// anew.
var versitygwPatch = struct {
	name, file, old, new string
}{
	name: "aind1",
	file: "backend/walk.go",
	old: `			entries, err := fs.ReadDir(walkstate.fileSystem, prefixDir)
			if err == nil && len(entries) > 0 {`,
	new: `			entries, err := fs.ReadDir(walkstate.fileSystem, prefixDir)
			if errors.Is(err, fs.ErrNotExist) {
				// aind-devstack: no key has this prefix; do not walk the whole bucket.
				return nil
			}
			if err == nil && len(entries) > 0 {`,
}

// ensureVersitygw returns the versitygw binary to run: override if set
// ($VERSITYGW_BIN / --versitygw-bin), else <cacheDir>/versitygw-<version>-<patch>/versitygw,
// building it first if it is missing (buildVersitygw).
func ensureVersitygw(ctx context.Context, log zerolog.Logger, override, cacheDir string) (string, error) {
	if override != "" {
		bin, err := exec.LookPath(override)
		if err != nil {
			return "", fmt.Errorf("versitygw binary %q: %w", override, err)
		}
		return bin, nil
	}

	dir := filepath.Join(cacheDir, "versitygw-"+VersitygwVersion+"-"+versitygwPatch.name)
	bin := filepath.Join(dir, "versitygw")
	if isExecutable(bin) {
		log.Debug().Str("bin", bin).Msg("using cached versitygw")
		return bin, nil
	}

	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("create cache dir: %w", err)
	}
	// Serialize concurrent installs (e.g. several test binaries starting at once).
	unlock, err := lockFile(ctx, filepath.Join(cacheDir, "versitygw-"+VersitygwVersion+".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if isExecutable(bin) {
		return bin, nil
	}

	goTool, err := findGo()
	if err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(cacheDir, "install-")
	if err != nil {
		return "", fmt.Errorf("create install dir: %w", err)
	}
	defer os.RemoveAll(tmp)

	started := time.Now()
	log.Info().Str("package", versitygwPackage+"@"+VersitygwVersion).Str("patch", versitygwPatch.name).Str("into", dir).
		Msg("building versitygw (first run only; compiling takes a few minutes)")
	if err := buildVersitygw(ctx, goTool, tmp); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Rename(filepath.Join(tmp, "versitygw"), bin); err != nil {
		return "", fmt.Errorf("move installed versitygw into the cache: %w", err)
	}
	log.Info().Str("bin", bin).Dur("took", time.Since(started)).Msg("installed versitygw")
	return bin, nil
}

// buildVersitygw downloads versitygw's module source through the Go module proxy, applies
// versitygwPatch to a copy in tmp/src and builds tmp/versitygw from it.
func buildVersitygw(ctx context.Context, goTool, tmp string) error {
	run := func(dir string, args ...string) ([]byte, error) {
		var out, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, goTool, args...)
		cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &out, &stderr
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return out.Bytes(), nil
	}
	out, err := run(tmp, "mod", "download", "-json", versitygwModule+"@"+VersitygwVersion)
	if err != nil {
		return err
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return fmt.Errorf("go mod download %s@%s: no source folder in %q (%v)", versitygwModule, VersitygwVersion, out, err)
	}
	src := filepath.Join(tmp, "src")
	if err := os.CopyFS(src, os.DirFS(mod.Dir)); err != nil {
		return fmt.Errorf("copying versitygw's source: %w", err)
	}
	if err := applyPatch(src); err != nil {
		return err
	}
	_, err = run(src, "build", "-trimpath", "-o", filepath.Join(tmp, "versitygw"), "./cmd/versitygw")
	return err
}

// applyPatch applies versitygwPatch to the source tree at src; the text it replaces must be
// there exactly once (another versitygw version needs the patch redone).
func applyPatch(src string) error {
	path := filepath.Join(src, filepath.FromSlash(versitygwPatch.file))
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("patching versitygw: %w", err)
	}
	if n := strings.Count(string(b), versitygwPatch.old); n != 1 {
		return fmt.Errorf("patching versitygw %s: %s has the text to replace %d times, want once", VersitygwVersion, versitygwPatch.file, n)
	}
	patched := strings.Replace(string(b), versitygwPatch.old, versitygwPatch.new, 1)
	if err := os.WriteFile(path, []byte(patched), 0o644); err != nil {
		return fmt.Errorf("patching versitygw: %w", err)
	}
	return nil
}

// findGo returns the go command: from PATH, else $GOROOT/bin/go.
func findGo() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); isExecutable(p) {
			return p, nil
		}
	}
	return "", errors.New("the go command is needed to install versitygw but is not on PATH (or set VERSITYGW_BIN)")
}

// isExecutable reports whether path is a regular file with an execute bit.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// gatewayConfig configures startGateway.
type gatewayConfig struct {
	bin     string
	dataDir string
	addr    string // host:port to listen on
	// keepAlive passes --keep-alive: versitygw v1.8.0 closes every connection after
	// one response unless told otherwise (s3api/server.go, DisableKeepalive).
	keepAlive bool
}

// gateway is a running versitygw child process.
type gateway struct {
	addr    string
	logPath string

	cmd     *exec.Cmd
	logFile *os.File
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done is closed

	stopOnce sync.Once
	stopErr  error
}

// startGateway starts versitygw's posix backend rooted at <dataDir>/s3, logging to <dataDir>/versitygw.log.
func startGateway(log zerolog.Logger, cfg gatewayConfig) (*gateway, error) {
	root := filepath.Join(cfg.dataDir, "s3")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("create S3 root: %w", err)
	}
	logPath := filepath.Join(cfg.dataDir, "versitygw.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open versitygw log: %w", err)
	}

	args := []string{
		"--port", cfg.addr,
		"--access", AccessKey,
		"--secret", SecretKey,
		"--region", Region,
		"--quiet",
	}
	if cfg.keepAlive {
		args = append(args, "--keep-alive")
	}
	args = append(args, "posix")
	if !xattrSupported(root) {
		// The posix backend keeps object metadata in xattrs; fall back to a sidecar dir.
		sidecar := filepath.Join(cfg.dataDir, "s3-meta")
		if err := os.MkdirAll(sidecar, 0o755); err != nil {
			logFile.Close()
			return nil, fmt.Errorf("create S3 metadata dir: %w", err)
		}
		log.Info().Str("sidecar", sidecar).Msg("filesystem lacks user xattrs; versitygw keeps metadata in a sidecar dir")
		args = append(args, "--sidecar", sidecar)
	}
	args = append(args, root)

	cmd := exec.Command(cfg.bin, args...)
	cmd.Dir = cfg.dataDir
	cmd.Env = gatewayEnv(os.Environ())
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = childSysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start versitygw %s: %w", cfg.bin, err)
	}
	g := &gateway{
		addr:    cfg.addr,
		logPath: logPath,
		cmd:     cmd,
		logFile: logFile,
		done:    make(chan struct{}),
	}
	go func() {
		g.waitErr = cmd.Wait()
		close(g.done)
	}()
	log.Info().Int("pid", cmd.Process.Pid).Str("addr", cfg.addr).Str("root", root).Str("log", logPath).Msg("versitygw started")
	return g, nil
}

// gatewayEnv drops variables versitygw would read as settings, so only our flags apply.
func gatewayEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "VGW_"), strings.HasPrefix(name, "ROOT_ACCESS_KEY"),
			strings.HasPrefix(name, "ROOT_SECRET"), name == "LOGFILE", name == "WEBHOOK":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// pid returns the child's process id.
func (g *gateway) pid() int {
	return g.cmd.Process.Pid
}

// exitErr returns how the process exited (nil while it runs or after a clean exit).
func (g *gateway) exitErr() error {
	select {
	case <-g.done:
		if g.waitErr == nil {
			return errors.New("exit status 0")
		}
		return g.waitErr
	default:
		return nil
	}
}

// stop sends SIGTERM, waits up to grace, then SIGKILLs and waits. It is idempotent.
func (g *gateway) stop(grace time.Duration) error {
	g.stopOnce.Do(func() {
		defer g.logFile.Close()
		select {
		case <-g.done:
			return // already gone; the caller reports unexpected exits
		default:
		}
		if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			g.stopErr = fmt.Errorf("signal versitygw: %w", err)
		}
		select {
		case <-g.done:
			return
		case <-time.After(grace):
		}
		if err := g.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			g.stopErr = errors.Join(g.stopErr, fmt.Errorf("kill versitygw: %w", err))
		}
		<-g.done
		g.stopErr = errors.Join(g.stopErr, fmt.Errorf("versitygw ignored SIGTERM for %s and was killed", grace))
	})
	return g.stopErr
}

// tailFile returns the last n lines of the file at path (or a note why it cannot).
func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	const maxTail = 16 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > maxTail {
		if _, err := f.Seek(-maxTail, io.SeekEnd); err != nil {
			return fmt.Sprintf("(cannot read %s: %v)", path, err)
		}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := strings.Join(lines, "\n")
	if out == "" {
		return "(empty)"
	}
	return out
}
