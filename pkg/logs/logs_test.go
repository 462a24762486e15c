package logs

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestNewWritesJSONWhenNotTerminal(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "info")
	log.Debug().Msg("hidden")
	log.Info().Str("k", "v").Msg("shown")
	var rec map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &rec); err != nil {
		t.Fatalf("log line is not one JSON object: %q: %v", buf.String(), err)
	}
	if rec["message"] != "shown" || rec["k"] != "v" || rec["level"] != "info" {
		t.Fatalf("unexpected record %v", rec)
	}
}

func TestNewUnknownLevelIsInfo(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "loud")
	log.Debug().Msg("hidden")
	if buf.Len() != 0 {
		t.Fatalf("debug line written at default level: %q", buf.String())
	}
}
