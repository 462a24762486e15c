package docdb

import (
	"errors"
	"net"
	"os"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/description"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// plainError is an error said in other words; the error it says stays its Unwrap, so
// errors.Is and errors.As see the driver's error (and its context.DeadlineExceeded).
type plainError struct {
	msg string
	err error
}

func (e *plainError) Error() string { return e.msg }
func (e *plainError) Unwrap() error { return e.err }

// plainSelection replaces, in err's message, the driver's server selection error
// ("server selection error: context deadline exceeded, current topology: { Type:
// Unknown, Servers: [{ Addr: ..., Last error: dial tcp ...: connect: connection refused
// }, ] }") with why each server could not be used, in plain words ("127.0.0.1:1:
// connection refused"). Any other error is returned as it is.
func plainSelection(err error) error {
	var sse topology.ServerSelectionError
	if !errors.As(err, &sse) {
		return err
	}
	raw := sse.Error()
	msg := err.Error()
	if !strings.HasSuffix(msg, raw) {
		return err
	}
	return &plainError{msg: strings.TrimSuffix(msg, raw) + selectionWords(sse.Desc), err: err}
}

// selectionWords says why no server of desc could be used: each server's last error, or,
// when none has one, that none was suitable in time.
func selectionWords(desc description.Topology) string {
	var why, seen []string
	for _, s := range desc.Servers {
		if s.LastError != nil {
			why = append(why, s.Addr.String()+": "+serverWords(s.LastError))
		} else {
			seen = append(seen, s.Addr.String()+" ("+s.Kind.String()+")")
		}
	}
	switch {
	case len(why) > 0:
		return strings.Join(why, "; ")
	case len(seen) > 0:
		return "no suitable server answered in time (servers: " + strings.Join(seen, ", ") + ")"
	}
	return "no server answered in time"
}

// serverWords is one server's error in plain words: "connection refused", "no such
// host", "timed out"; else the error's own message.
func serverWords(err error) string {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		if dns.IsNotFound {
			return "no such host " + dns.Name
		}
		return "cannot look up " + dns.Name + ": " + dns.Err
	}
	var sys *os.SyscallError
	if errors.As(err, &sys) {
		return sys.Err.Error()
	}
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	return err.Error()
}
