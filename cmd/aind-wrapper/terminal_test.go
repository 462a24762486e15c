package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestTerminalGetsNoRawJSON runs the wrapper on a terminal (util-linux script gives it a
// pseudo-terminal): every log line, the job's own included, is readable text, never a raw
// JSON object; the job's analysis.log keeps JSON lines.
func TestTerminalGetsNoRawJSON(t *testing.T) {
	s := newStack(t, map[string]any{"analysis_name": "a", "cutoff": 0.5})
	out := t.TempDir()
	cmd := s.command(out, "--parameter_schema="+s.in+"/schema.json", "--log_level=info", "--", "sh", "-c", analysis)
	// script runs the command line in a shell on a new pseudo-terminal.
	quoted := make([]string, len(cmd.Args))
	for i, a := range cmd.Args {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	term := exec.Command("script", "-qec", strings.Join(quoted, " "), "/dev/null")
	term.Env = cmd.Env
	b, err := term.CombinedOutput()
	if err != nil {
		t.Fatalf("aind-wrapper on a terminal: %v\n%s", err, b)
	}
	text := string(b)
	if !strings.Contains(text, "running analysis command") {
		t.Fatalf("the job's log line is missing from the terminal:\n%s", text)
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), `{"level"`) {
			t.Errorf("raw JSON on a terminal: %s", line)
		}
	}
	logs, _ := exec.Command("sh", "-c", "cat "+out+"/*/analysis.log").Output()
	if !strings.Contains(string(logs), `{"level":"info"`) {
		t.Errorf("analysis.log lacks its JSON lines:\n%s", logs)
	}
}
