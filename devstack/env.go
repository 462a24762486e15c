package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// envVar is one KEY=VALUE line of the client environment.
type envVar struct {
	key, value string
}

// clientEnv returns the environment clients need to reach the stack, in print order.
// DocDB is selected either by DOCDB_URI (Mongo driver) or by DOCDB_HOST (HTTP gateway),
// never both (clients refuse that): viaGateway picks which; the other is printed with a
// DEVSTACK_ prefix for tools that want both.
func clientEnv(st *stack, bucket, dataDir string, viaGateway bool) []envVar {
	uriKey, hostPrefix := "DOCDB_URI", "DEVSTACK_"
	if viaGateway {
		uriKey, hostPrefix = "DEVSTACK_DOCDB_URI", ""
	}
	env := []envVar{
		{uriKey, st.clientDocDBURI()},
		{"AWS_ENDPOINT_URL_S3", st.clientS3Endpoint()},
		{"AWS_ACCESS_KEY_ID", AccessKey},
		{"AWS_SECRET_ACCESS_KEY", SecretKey},
		{"AWS_REGION", Region},
		{"ANALYSIS_BUCKET", "s3://" + bucket},
		{"DEVSTACK_DATA_DIR", dataDir},
		{"DEVSTACK_PID", strconv.Itoa(os.Getpid())},
	}
	if st.docdbHost != "" {
		env = append(env, envVar{hostPrefix + "DOCDB_HOST", st.docdbHost}, envVar{hostPrefix + "DOCDB_VERSION", st.docdbGW.cfg.version})
	}
	if st.countsSrv != nil {
		env = append(env, envVar{"DEVSTACK_REQUESTS_URL", st.countsSrv.url})
	}
	return env
}

// readyLine is printed after the environment once the stack is usable.
const readyLine = "DEVSTACK_READY=1"

// checkEnv rejects values a plain KEY=VALUE line (or a sourced shell file) cannot carry.
func checkEnv(env []envVar) error {
	for _, v := range env {
		if v.value == "" || strings.ContainsAny(v.value, " \t\r\n'\"\\$`;&|<>()") {
			return fmt.Errorf("%s=%q is empty or has spaces/shell characters (use --dir with a plain path)", v.key, v.value)
		}
	}
	return nil
}

// writeEnv prints the environment and the ready line to w and flushes.
func writeEnv(w io.Writer, env []envVar) error {
	if err := checkEnv(env); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	for _, v := range env {
		fmt.Fprintf(bw, "%s=%s\n", v.key, v.value)
	}
	fmt.Fprintln(bw, readyLine)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write environment to stdout: %w", err)
	}
	if f, ok := w.(*os.File); ok {
		_ = f.Sync() // best effort; pipes and terminals do not support it
	}
	return nil
}

// writeEnvFile writes the environment as sourceable "export KEY=VALUE" lines
// to path atomically (temporary file in the same directory, then rename).
func writeEnvFile(path string, env []envVar) (err error) {
	if err := checkEnv(env); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create env file dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("create temporary env file: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriter(tmp)
	for _, v := range env {
		fmt.Fprintf(bw, "export %s=%s\n", v.key, v.value)
	}
	fmt.Fprintf(bw, "export %s\n", readyLine)
	if err := errors.Join(bw.Flush(), tmp.Chmod(0o644), tmp.Sync(), tmp.Close()); err != nil {
		return fmt.Errorf("write env file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename env file into place: %w", err)
	}
	return nil
}

// waitReady waits until the env file a starting devstack writes exists and names a live
// process (a stale file left by a killed devstack is not "ready"), then copies it to w.
func waitReady(ctx context.Context, path string, timeout time.Duration, w io.Writer) error {
	if path == "" {
		return errors.New("--wait needs --env-file: the file the devstack writes when it is ready")
	}
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(path)
		if err == nil && envPIDAlive(string(b)) {
			_, err = w.Write(b)
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no ready devstack after %s: %s was not written by a running aind-devstack (see its log)", timeout, path)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// envPIDAlive reports whether the env file's DEVSTACK_PID names a running process.
func envPIDAlive(env string) bool {
	for _, line := range strings.Split(env, "\n") {
		if v, ok := strings.CutPrefix(line, "export DEVSTACK_PID="); ok {
			pid, err := strconv.Atoi(strings.TrimSpace(v))
			return err == nil && pid > 0 && processAlive(pid)
		}
	}
	return false
}
