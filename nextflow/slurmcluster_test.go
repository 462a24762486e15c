package nextflow

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestSlurmClusterRefusesPortsInUse: a second scripts/slurm-cluster on this host with the
// ports of a running one must not start (its clients and daemons would reach the other
// cluster's controller): exit 1 naming the port and --ports, no daemon of its own, and the
// running cluster untouched. With --ports on free ports it starts, its node idle, and
// `down` stops it without touching the first.
func TestSlurmClusterRefusesPortsInUse(t *testing.T) {
	conf := slurmCluster(t)
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^SlurmctldPort=(\d+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s has no SlurmctldPort line", conf)
	}
	running, _ := strconv.Atoi(string(m[1]))
	ping := func() {
		t.Helper()
		if out, err := exec.Command("scontrol", "ping").CombinedOutput(); err != nil || !strings.Contains(string(out), "UP") {
			t.Fatalf("the running cluster (SLURM_CONF=%s) no longer answers: %v\n%s", conf, err, out)
		}
	}
	t.Setenv("SLURM_CONF", conf)
	t.Setenv("PATH", os.Getenv("PATH")+":/usr/sbin")
	ping()

	dir := t.TempDir()
	script := func(args ...string) (string, error) {
		out, err := exec.Command("../scripts/slurm-cluster", append(args, "--dir", dir)...).CombinedOutput()
		return string(out), err
	}
	out, err := script("up", "--env-file", filepath.Join(dir, "env"), "--nodes", "1", "--ports", strconv.Itoa(running))
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 ||
		!strings.Contains(out, "127.0.0.1:"+strconv.Itoa(running)+" is in use") || !strings.Contains(out, "--ports") {
		t.Fatalf("up on the running cluster's ports: %v\n%s\nwant exit 1 naming 127.0.0.1:%d and --ports", err, out, running)
	}
	if pids, _ := filepath.Glob(filepath.Join(dir, "run", "*.pid")); len(pids) > 0 {
		t.Fatalf("a refused up left pid files: %v", pids)
	}
	if _, err := os.Stat(filepath.Join(dir, "env")); err == nil {
		t.Fatal("a refused up wrote its env file")
	}
	ping()

	base := freePortRun(t, 2)
	out, err = script("up", "--env-file", filepath.Join(dir, "env"), "--nodes", "1", "--ports", strconv.Itoa(base))
	if err != nil {
		t.Fatalf("up --ports %d: %v\n%s", base, err, out)
	}
	t.Cleanup(func() { _, _ = script("down") })
	own := filepath.Join(dir, "etc", "slurm.conf")
	info, err := exec.Command("sinfo", "-h", "-N", "-o", "%N %T").CombinedOutput()
	if err != nil {
		t.Fatal(err, string(info))
	}
	second, err := secondNodes(own)
	if err != nil || strings.TrimSpace(string(second)) != "n1 idle" {
		t.Fatalf("the cluster on --ports %d: sinfo = %q, %v; want one idle node n1", base, second, err)
	}
	if out, err := script("down"); err != nil {
		t.Fatalf("down: %v\n%s", err, out)
	}
	ping()

	// --ports auto passes over the running cluster's ports to free ones.
	out, err = script("up", "--env-file", filepath.Join(dir, "env"), "--nodes", "1", "--ports", "auto")
	if err != nil {
		t.Fatalf("up --ports auto: %v\n%s", err, out)
	}
	b, err = os.ReadFile(own)
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^SlurmctldPort=(\d+)$`).FindSubmatch(b); m == nil || string(m[1]) == strconv.Itoa(running) {
		t.Fatalf("--ports auto chose %q, the running cluster's port is %d", m, running)
	}
	second, err = secondNodes(own)
	if err != nil || strings.TrimSpace(string(second)) != "n1 idle" {
		t.Fatalf("the cluster on --ports auto: sinfo = %q, %v; want one idle node n1", second, err)
	}
	if out, err := script("down"); err != nil {
		t.Fatalf("down: %v\n%s", err, out)
	}
	ping()
	if again, _ := exec.Command("sinfo", "-h", "-N", "-o", "%N %T").CombinedOutput(); string(again) != string(info) {
		t.Fatalf("the running cluster's nodes changed: before %q, after %q", info, again)
	}
}

// secondNodes runs sinfo's node list on the cluster of slurm.conf conf.
func secondNodes(conf string) ([]byte, error) {
	cmd := exec.Command("sinfo", "-h", "-N", "-o", "%N %T")
	cmd.Env = append(os.Environ(), "SLURM_CONF="+conf)
	return cmd.CombinedOutput()
}

// freePortRun returns a port p such that p..p+n are all free on 127.0.0.1 now.
func freePortRun(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if p+n > 65535 {
			continue
		}
		free := true
		for q := p; q <= p+n && free; q++ {
			if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(q)); err != nil {
				free = false
			} else {
				l.Close()
			}
		}
		if free {
			return p
		}
	}
	t.Fatal("no run of free ports found")
	return 0
}
