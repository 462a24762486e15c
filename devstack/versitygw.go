package main

import (
	"bytes"
	"context"
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

// versitygwPackage is the package installed with go install.
const versitygwPackage = "github.com/versity/versitygw/cmd/versitygw"

// ensureVersitygw returns the versitygw binary to run: override if set
// ($VERSITYGW_BIN / --versitygw-bin), else <cacheDir>/versitygw-<version>/versitygw,
// installing it with go install first if it is missing.
func ensureVersitygw(ctx context.Context, log zerolog.Logger, override, cacheDir string) (string, error) {
	if override != "" {
		bin, err := exec.LookPath(override)
		if err != nil {
			return "", fmt.Errorf("versitygw binary %q: %w", override, err)
		}
		return bin, nil
	}

	dir := filepath.Join(cacheDir, "versitygw-"+VersitygwVersion)
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
	log.Info().Str("package", versitygwPackage+"@"+VersitygwVersion).Str("into", dir).
		Msg("installing versitygw with go install (first run only; compiling takes a few minutes)")
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, goTool, "install", versitygwPackage+"@"+VersitygwVersion)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOWORK=off")
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w\n%s", versitygwPackage, VersitygwVersion, err, out.String())
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
		"posix",
	}
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
