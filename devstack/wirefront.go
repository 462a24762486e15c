package main

// wirefront.go is the Mongo wire front of --count-requests: a TCP proxy on the DocDB port
// clients are given, in front of FerretDB, that reads the header of each message a client
// sends and the name of its command, counts them and the connections it accepts, and
// forwards every byte unchanged. Replies are copied back untouched (splice(2) between the
// sockets on Linux). FerretDB counts commands itself, but the embedded v1.24.2 does not
// expose its counters, and they would mix in the gateway's own queries.
//
// The wire format is the MongoDB Wire Protocol
// (https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/): every message
// starts with a 16-byte little-endian header (messageLength, requestID, responseTo,
// opCode). An OP_MSG (2013) has flagBits (uint32) and then sections, each a kind byte:
// kind 0 is the body document, whose first key is the command name; kind 1 is a document
// sequence (int32 size, identifier, documents). The legacy OP_QUERY (2004), which drivers
// still use for the first handshake, has flags, a collection name ("admin.$cmd" for a
// command), numberToSkip, numberToReturn and the query document.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/rs/zerolog"
)

// Wire protocol constants.
const (
	wireHeaderLen  = 16
	opMsg          = 2013
	opQuery        = 2004
	opCompressed   = 2012
	maxWireMessage = 48_000_000 // MongoDB's maxMessageSizeBytes; FerretDB v1 reports the same
	// wirePeek is how much of a message is looked at for its command name: the body
	// section comes first in every driver's messages, so its first key is near the start;
	// a kind-1 section before it is skipped only while it lies within this window.
	wirePeek = 16 << 10
)

// wireFront is the running Mongo wire proxy.
type wireFront struct {
	log     zerolog.Logger
	counts  *requestCounts
	l       net.Listener
	backend string
	addr    string // 127.0.0.1:PORT clients use

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// startWireFront listens on 127.0.0.1:port (0: a free port) and forwards each connection
// to backend (host:port, FerretDB), counting into counts.
func startWireFront(log zerolog.Logger, counts *requestCounts, port int, backend string) (*wireFront, error) {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("Mongo wire front: listen: %w", err)
	}
	f := &wireFront{log: log.With().Str("component", "wire-front").Logger(), counts: counts, l: l,
		backend: backend, addr: l.Addr().String(), conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.serve()
	f.log.Info().Str("addr", f.addr).Str("backend", backend).Msg("Mongo wire front started")
	return f, nil
}

// serve accepts connections until the listener is closed.
func (f *wireFront) serve() {
	defer f.wg.Done()
	for {
		c, err := f.l.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				f.log.Error().Err(err).Msg("Mongo wire front: accept")
			}
			return
		}
		f.counts.wireConn()
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.proxy(c)
		}()
	}
}

// track registers conns for stop; it reports false (and closes them) once stopping.
func (f *wireFront) track(conns ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		f.conns[c] = struct{}{}
	}
	return true
}

// untrack closes and forgets conns.
func (f *wireFront) untrack(conns ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range conns {
		c.Close()
		delete(f.conns, c)
	}
}

// proxy forwards one client connection to a new backend connection until either side closes.
func (f *wireFront) proxy(client net.Conn) {
	server, err := net.Dial("tcp", f.backend)
	if err != nil {
		f.log.Warn().Err(err).Msg("Mongo wire front: FerretDB does not answer")
		client.Close()
		return
	}
	if !f.track(client, server) {
		return
	}
	defer f.untrack(client, server)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(client, server) // replies, unchanged
		client.Close()                 // FerretDB closed: so does the client's side
	}()
	if err := f.forward(server, client); err != nil && !errors.Is(err, net.ErrClosed) {
		f.log.Debug().Err(err).Msg("Mongo wire front: connection ended")
	}
	if tc, ok := server.(*net.TCPConn); ok {
		_ = tc.CloseWrite() // the client is done sending; FerretDB answers and closes
	}
	<-done
}

// forward copies client messages to server one at a time, counting each before its last
// byte is sent (so before FerretDB can answer it). It returns at EOF or on an error.
func (f *wireFront) forward(server io.Writer, client io.Reader) error {
	br := bufio.NewReaderSize(client, wirePeek)
	for {
		hdr, err := br.Peek(wireHeaderLen)
		if err != nil {
			if errors.Is(err, io.EOF) && len(hdr) == 0 {
				return nil
			}
			return err
		}
		length := int(int32(binary.LittleEndian.Uint32(hdr)))
		if length < wireHeaderLen || length > maxWireMessage {
			// Not a message FerretDB takes; it will say so and close. Pass it on as is.
			f.counts.wireCommand("malformed")
			_, err := io.Copy(server, br)
			return err
		}
		msg, err := br.Peek(min(length, wirePeek))
		if err != nil {
			return err
		}
		f.counts.wireCommand(wireCommandName(msg))
		for rest := length; rest > 0; {
			if br.Buffered() == 0 {
				if _, err := br.Peek(1); err != nil {
					return err
				}
			}
			chunk, _ := br.Peek(min(rest, br.Buffered()))
			if _, err := server.Write(chunk); err != nil {
				return err
			}
			_, _ = br.Discard(len(chunk))
			rest -= len(chunk)
		}
	}
}

// stop closes the listener and every connection and waits for the proxy goroutines.
func (f *wireFront) stop() error {
	f.mu.Lock()
	f.closed = true
	err := f.l.Close()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
	return err
}

// wireCommandName names the command of a client message from its first bytes msg (the
// header and up to wirePeek bytes after it): the first key of an OP_MSG body or of an
// OP_QUERY on a "$cmd" collection; "OP_QUERY" for a legacy query on a collection,
// "OP_COMPRESSED" or "opcode N" for other opcodes, and "unknown" when the name is not in
// msg (or msg is cut short or malformed).
func wireCommandName(msg []byte) string {
	if len(msg) < wireHeaderLen {
		return "unknown"
	}
	length := int(int32(binary.LittleEndian.Uint32(msg)))
	if length >= wireHeaderLen && length < len(msg) {
		msg = msg[:length]
	}
	body := msg[wireHeaderLen:]
	switch op := binary.LittleEndian.Uint32(msg[12:16]); op {
	case opMsg:
		if len(body) < 4 {
			return "unknown"
		}
		for s := body[4:]; len(s) > 0; { // sections after flagBits
			switch s[0] {
			case 0:
				return firstKey(s[1:])
			case 1:
				if len(s) < 5 {
					return "unknown"
				}
				size := int(int32(binary.LittleEndian.Uint32(s[1:5])))
				if size < 4 || 1+size > len(s) {
					return "unknown"
				}
				s = s[1+size:]
			default:
				return "unknown"
			}
		}
		return "unknown"
	case opQuery:
		if len(body) < 4 {
			return "unknown"
		}
		coll, rest, ok := cstring(body[4:])
		if !ok || len(rest) < 8 {
			return "unknown"
		}
		if len(coll) < 5 || coll[len(coll)-5:] != ".$cmd" {
			return "OP_QUERY"
		}
		return firstKey(rest[8:])
	case opCompressed:
		return "OP_COMPRESSED"
	default:
		return "opcode " + strconv.FormatUint(uint64(op), 10)
	}
}

// firstKey returns the name of the first element of the BSON document at the start of
// doc (int32 length, then per element a type byte and a cstring name), or "unknown".
func firstKey(doc []byte) string {
	if len(doc) < 6 || doc[4] == 0 { // too short, or an empty document
		return "unknown"
	}
	name, _, ok := cstring(doc[5:])
	if !ok || name == "" {
		return "unknown"
	}
	return name
}

// cstring splits b at its first NUL: the string before it and the bytes after.
func cstring(b []byte) (string, []byte, bool) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), b[i+1:], true
		}
	}
	return "", nil, false
}
