package chatter

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestCaptureKeepsPrintlnOffStderr runs itself as a child process whose standard error is
// a pipe: a println inside Capture is returned to the caller, not printed; another line
// written to os.Stderr during the capture still reaches standard error.
func TestCaptureKeepsPrintlnOffStderr(t *testing.T) {
	if os.Getenv("CHATTER_CHILD") == "1" {
		lines := Capture([]string{"parquet: "}, func() {
			println("parquet: warning: column", 5, "byte array page has", 3, "offsets")
			os.Stderr.WriteString("a log line\n")
		})
		os.Stdout.WriteString(strings.Join(lines, "\n") + "\n")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCaptureKeepsPrintlnOffStderr$")
	cmd.Env = append(os.Environ(), "CHATTER_CHILD=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), "parquet:") {
		t.Errorf("the library's println reached stderr:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "a log line") {
		t.Errorf("a line written to os.Stderr during the capture was lost; stderr:\n%s", stderr.String())
	}
	if !strings.Contains(string(out), "parquet: warning: column 5 byte array page has 3 offsets") {
		t.Errorf("Capture did not return the println; stdout:\n%s", out)
	}
}
