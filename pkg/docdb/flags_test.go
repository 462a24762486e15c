package docdb

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

func TestConnectionFlagsSelectOneBackend(t *testing.T) {
	tests := []struct {
		name    string
		flags   ConnectionFlags
		wantErr string // "" means it opens (the gateway opens without contacting the server)
	}{
		{"neither", ConnectionFlags{}, "neither"},
		{"both", ConnectionFlags{DocDBURI: "mongodb://u:secretpw@127.0.0.1:1/", DocDBHost: "api.example.org"}, "both"},
		{"gateway", ConnectionFlags{DocDBHost: "api.example.org", DocDBVersion: "v1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.flags.Connect(context.Background())
			if tt.wantErr == "" {
				if err != nil || b.Describe() != "https://api.example.org/v1" {
					t.Fatalf("Connect: %v, %v", b, err)
				}
				return
			}
			if !fault.IsUsage(err) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Connect: %v, want a usage error about %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error()+tt.flags.Describe(), "secretpw") {
				t.Fatalf("password shown: %v / %s", err, tt.flags.Describe())
			}
		})
	}
	if c := (ConnectionFlags{DocDBHost: "h", DocDBTimeout: 10 * time.Second}).Config(); c.Timeout < time.Minute {
		t.Errorf("gateway request timeout %s, want at least a minute", c.Timeout)
	}
}
