package docdb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo/address"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/description"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// TestPlainSelection: the driver's server selection error is said as each server's last
// error in plain words, keeping what wraps it and leaving the driver's error (and its
// deadline) to errors.As and errors.Is; other errors are left as they are.
func TestPlainSelection(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	selection := func(servers ...description.Server) error {
		return topology.ServerSelectionError{Wrapped: context.DeadlineExceeded, Desc: description.Topology{Servers: servers}}
	}
	server := func(addr string, kind description.ServerKind, last error) description.Server {
		return description.Server{Addr: address.Address(addr), Kind: kind, LastError: last}
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"connection refused", selection(server("127.0.0.1:1", description.Unknown, refused)), "127.0.0.1:1: connection refused"},
		{"wrapped, keeping the context", fmt.Errorf("querying db.c: %w", selection(server("127.0.0.1:1", description.Unknown, refused))), "querying db.c: 127.0.0.1:1: connection refused"},
		{"no such host", selection(server("db.invalid:27017", description.Unknown, &net.DNSError{Err: "no such host", Name: "db.invalid", IsNotFound: true})), "db.invalid:27017: no such host db.invalid"},
		{"timed out", selection(server("10.0.0.9:27017", description.Unknown, &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded})), "10.0.0.9:27017: timed out"},
		{"two servers", selection(server("a:1", description.Unknown, refused), server("b:2", description.Unknown, errors.New("auth error"))), "a:1: connection refused; b:2: auth error"},
		{"a server not suitable", selection(server("a:1", description.ServerKindRSSecondary, nil)), "no suitable server answered in time (servers: a:1 (RSSecondary))"},
		{"no server", selection(), "no server answered in time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := plainSelection(tt.err)
			var sse topology.ServerSelectionError
			if got.Error() != tt.want || !errors.As(got, &sse) || !errors.Is(got, context.DeadlineExceeded) {
				t.Fatalf("plainSelection = %q, want %q, the driver's error underneath", got, tt.want)
			}
		})
	}
	other := errors.New("not a selection error")
	if got := plainSelection(other); got != other {
		t.Fatalf("plainSelection(other) = %v, want it unchanged", got)
	}
}
