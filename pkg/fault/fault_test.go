package fault

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

func TestExitCodesHelpLinesFitAndNameEveryCode(t *testing.T) {
	long := "a meaning long enough to need more than one line of the help text, so that wrapping is exercised here"
	help := ExitCodes{OK: "ok", Failed: long, Usage: "usage", Transient: "transient"}.Help()
	for _, line := range strings.Split(help, "\n") {
		if len(line) > 76 {
			t.Errorf("line of %d characters: %q", len(line), line)
		}
	}
	for _, want := range []string{"\n  0    ok", "\n  1    a meaning", "\n       ", "\n  2    usage", "\n  75   transient", "\n  130  interrupted"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
}
