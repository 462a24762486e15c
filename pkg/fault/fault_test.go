package fault

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestExitCode(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, ExitOK},
		{"unclassified", base, ExitFailed},
		{"permanent", Permanent(base), ExitFailed},
		{"transient", Transient(base), ExitTransient},
		{"transient wrapped", fmt.Errorf("listing s3://b/k: %w", Transient(base)), ExitTransient},
		{"usage", Usagef("query %q: bad", "x"), ExitUsage},
		{"outer classification wins", Usage(fmt.Errorf("ctx: %w", Transient(base))), ExitUsage},
		{"cancelled", fmt.Errorf("run: %w", context.Canceled), ExitInterrupted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(tt.err); got != tt.want {
				t.Fatalf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestNilStaysNil(t *testing.T) {
	for name, f := range map[string]func(error) error{"Transient": Transient, "Permanent": Permanent, "Usage": Usage} {
		if f(nil) != nil {
			t.Errorf("%s(nil) != nil", name)
		}
	}
}

func TestUnwrapKeepsCause(t *testing.T) {
	base := errors.New("boom")
	if !errors.Is(Transient(base), base) {
		t.Fatal("Transient hides its cause from errors.Is")
	}
}
