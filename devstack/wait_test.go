package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWaitReady: --wait returns the env file once it exists and names a live devstack,
// and fails after the timeout while there is none or its process is gone.
func TestWaitReady(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "devstack.env")
	ctx := context.Background()
	var out strings.Builder
	if err := waitReady(ctx, path, 300*time.Millisecond, &out); err == nil {
		t.Fatal("no env file: want a timeout error")
	}
	stale := "export DOCDB_URI=mongodb://127.0.0.1:1/\nexport DEVSTACK_PID=999999999\nexport DEVSTACK_READY=1\n"
	if err := os.WriteFile(path, []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := waitReady(ctx, path, 300*time.Millisecond, &out); err == nil {
		t.Fatal("an env file of a dead process: want a timeout error")
	}
	live := fmt.Sprintf("export DOCDB_URI=mongodb://127.0.0.1:1/\nexport DEVSTACK_PID=%d\nexport DEVSTACK_READY=1\n", os.Getpid())
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = os.WriteFile(path, []byte(live), 0o644)
	}()
	if err := waitReady(ctx, path, 5*time.Second, &out); err != nil {
		t.Fatalf("a live devstack's env file: %v", err)
	}
	if out.String() != live {
		t.Fatalf("printed %q, want the env file", out.String())
	}
}
