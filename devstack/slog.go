package main

import (
	"context"
	"log/slog"
	"regexp"
	"strings"

	"github.com/rs/zerolog"
)

// slogHandler is a slog.Handler writing to a zerolog logger; it carries
// FerretDB's logs (which use slog) into aind-devstack's stderr log.
type slogHandler struct {
	log   zerolog.Logger
	min   slog.Level
	attrs []prefixedAttr // attributes bound with WithAttrs
	group string         // key prefix from WithGroup, e.g. "conn."
}

// prefixedAttr is an attribute bound under a group prefix.
type prefixedAttr struct {
	prefix string
	attr   slog.Attr
}

// newSlogHandler returns a handler logging records at or above min to log.
func newSlogHandler(log zerolog.Logger, min slog.Level) *slogHandler {
	return &slogHandler{log: log, min: min}
}

// Enabled implements slog.Handler.
func (h *slogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }

// Handle implements slog.Handler.
func (h *slogHandler) Handle(_ context.Context, r slog.Record) error {
	msg, keep := compactFerretMessage(r.Message)
	if !keep {
		return nil
	}
	ev := h.log.WithLevel(zerologLevel(r.Level))
	if ev == nil {
		return nil
	}
	for _, pa := range h.attrs {
		addAttr(ev, pa.prefix, pa.attr)
	}
	r.Attrs(func(a slog.Attr) bool {
		addAttr(ev, h.group, a)
		return true
	})
	ev.Msg(msg)
	return nil
}

// errmsgRe finds the error text in a dumped OP_MSG error response.
var errmsgRe = regexp.MustCompile(`"errmsg": "((?:[^"\\]|\\.)*)"`)

// compactFerretMessage shortens FerretDB's warn-level protocol dumps of error
// responses: the header dump is dropped, the body dump becomes one line with
// the error text, and errors for endSessions (sent by every driver Disconnect,
// unsupported by FerretDB v1) are dropped entirely.
func compactFerretMessage(msg string) (string, bool) {
	switch {
	case strings.HasPrefix(msg, "Response header: "), strings.HasPrefix(msg, "Proxy response header: "):
		return "", false
	case strings.HasPrefix(msg, "Response message:"):
		if strings.Contains(msg, "'endSessions'") {
			return "", false
		}
		if m := errmsgRe.FindStringSubmatch(msg); m != nil {
			return "error response: " + m[1], true
		}
	}
	return msg, true
}

// WithAttrs implements slog.Handler.
func (h *slogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = append([]prefixedAttr(nil), h.attrs...)
	for _, a := range attrs {
		h2.attrs = append(h2.attrs, prefixedAttr{prefix: h.group, attr: a})
	}
	return &h2
}

// WithGroup implements slog.Handler.
func (h *slogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.group = h.group + name + "."
	return &h2
}

// addAttr adds a (possibly group) attribute to ev with flattened keys.
func addAttr(ev *zerolog.Event, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, ga := range v.Group() {
			addAttr(ev, p, ga)
		}
		return
	}
	if a.Key == "" {
		return
	}
	if err, ok := v.Any().(error); ok {
		ev.AnErr(prefix+a.Key, err)
		return
	}
	ev.Interface(prefix+a.Key, v.Any())
}

// zerologLevel maps a slog level to the nearest zerolog level.
func zerologLevel(l slog.Level) zerolog.Level {
	switch {
	case l >= slog.LevelError:
		return zerolog.ErrorLevel
	case l >= slog.LevelWarn:
		return zerolog.WarnLevel
	case l >= slog.LevelInfo:
		return zerolog.InfoLevel
	default:
		return zerolog.DebugLevel
	}
}
