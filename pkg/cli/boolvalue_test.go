package cli

import (
	"bytes"
	"testing"
)

// The upstream capsules take a boolean flag's value as the next argument as well.
func TestBooleanFlagTakesTheNextArgument(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		flag   bool
		fields []string
	}{
		{"separate 1", []string{"--use_csv", "1"}, true, nil},
		{"separate 0 after default", []string{"--use-csv", "0"}, false, nil},
		{"separate True", []string{"--use_csv", "True", "--group_by", "a"}, true, []string{"a"}},
		{"attached", []string{"--use_csv=1"}, true, nil},
		{"bare", []string{"--use_csv", "--group_by", "b"}, true, []string{"b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got testCmd
			var stderr bytes.Buffer
			if code := Main("t", "test", &testCmd{got: &got}, tt.args, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			if got.Flag != tt.flag || len(got.Fields) != len(tt.fields) {
				t.Fatalf("flag %v fields %q, want %v %q", got.Flag, got.Fields, tt.flag, tt.fields)
			}
		})
	}
	// A value that is not a boolean literal is not taken: kong reports it.
	var got testCmd
	var stderr bytes.Buffer
	if code := Main("t", "test", &testCmd{got: &got}, []string{"--use_csv", "maybe"}, &stderr); code != 2 {
		t.Fatalf("--use_csv maybe: exit %d, want 2 (%s)", code, stderr.String())
	}
}
