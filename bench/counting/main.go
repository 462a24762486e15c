// Command counting measures what the devstack's request counters (--count-requests) cost:
// two devstacks run side by side, one plain and one counting, and each round runs the same
// fixed workload against both, in alternating order: N small PutObject (the AWS SDK) and N
// finds by _id (the Mongo driver). It prints the wall time and the CPU time the devstack
// used (its process, which holds FerretDB and the counting fronts, plus its versitygw
// child) for each, and the ratios counting/plain. It also checks, every round, that the
// counting devstack counted exactly the workload's requests.
//
//	go run ./bench/counting              # 2,000 puts and 2,000 finds, 3 rounds
//	go run ./bench/counting -n 500 -rounds 1
//
// The report goes to stdout, progress to stderr. See bench/README.md.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func main() {
	n := flag.Int("n", 2000, "PutObject and find requests per workload")
	rounds := flag.Int("rounds", 3, "rounds; each runs the workload on both devstacks")
	flag.Parse()
	if *n < 1 || *rounds < 1 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "bench/counting: -n and -rounds take positive numbers, no positional arguments")
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *n, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "bench/counting: FAIL:", err)
		os.Exit(1)
	}
}

// phase is one part of the workload: its name and the count the counting devstack must report.
type phase struct {
	name, countKey string
	run            func(ctx context.Context, d *devstack, round int) error
}

// measure is the time one phase took on one devstack.
type measure struct {
	wall, cpu time.Duration
}

func run(ctx context.Context, n, rounds int) error {
	tmp, err := os.MkdirTemp("", "aind-bench-counting.")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "aind-devstack")
	progress("building aind-devstack")
	if out, err := exec.CommandContext(ctx, "go", "-C", "devstack", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("go -C devstack build (run from the repository root): %w\n%s", err, out)
	}
	plain, err := startDevstack(ctx, bin, filepath.Join(tmp, "plain"))
	if err != nil {
		return err
	}
	defer plain.stop()
	counting, err := startDevstack(ctx, bin, filepath.Join(tmp, "counting"), "--count-requests")
	if err != nil {
		return err
	}
	defer counting.stop()
	if counting.env["DEVSTACK_REQUESTS_URL"] == "" {
		return errors.New("the devstack with --count-requests printed no DEVSTACK_REQUESTS_URL")
	}
	for _, d := range []*devstack{plain, counting} {
		if err := d.connect(ctx, n); err != nil {
			return err
		}
	}
	if _, err := counting.counts(ctx); err != nil { // zero them: the setup's requests are not the workload's
		return err
	}

	body := bytes.Repeat([]byte("x"), 200)
	phases := []phase{
		{"S3 PutObject", "s3 PutObject 2xx", func(ctx context.Context, d *devstack, round int) error {
			for i := range n {
				key := fmt.Sprintf("round-%d/key-%06d", round, i)
				if _, err := d.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("aind-analysis"), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
					return fmt.Errorf("put %s: %w", key, err)
				}
			}
			return nil
		}},
		{"DocDB find", "docdb find", func(ctx context.Context, d *devstack, _ int) error {
			for i := range n {
				if err := d.coll.FindOne(ctx, bson.D{{Key: "_id", Value: docID(i)}}).Err(); err != nil {
					return fmt.Errorf("find %s: %w", docID(i), err)
				}
			}
			return nil
		}},
	}
	loadBefore := load()
	results := map[string]map[string][]measure{} // phase -> "plain"/"counting" -> per round
	for _, p := range phases {
		results[p.name] = map[string][]measure{}
	}
	for round := range rounds {
		order := []*devstack{plain, counting}
		if round%2 == 1 {
			order = []*devstack{counting, plain}
		}
		for _, d := range order {
			for _, p := range phases {
				m, err := d.time(func() error { return p.run(ctx, d, round) })
				if err != nil {
					return fmt.Errorf("%s on the %s devstack: %w", p.name, d.name, err)
				}
				results[p.name][d.name] = append(results[p.name][d.name], m)
				progress("round %d, %s devstack, %s: %.2f s (cpu %.2f s)", round+1, d.name, p.name, m.wall.Seconds(), m.cpu.Seconds())
			}
		}
		got, err := counting.counts(ctx)
		if err != nil {
			return err
		}
		for _, p := range phases {
			if got[p.countKey] != int64(n) {
				return fmt.Errorf("round %d: the counting devstack counted %d %q, want %d (all: %v)", round+1, got[p.countKey], p.countKey, n, got)
			}
		}
	}

	fmt.Printf("request counting overhead, %d requests per phase, medians of %d interleaved rounds (%s, %d CPUs, load %s -> %s):\n",
		n, rounds, runtime.Version(), runtime.NumCPU(), loadBefore, load())
	for _, p := range phases {
		off, on := median(results[p.name]["plain"]), median(results[p.name]["counting"])
		fmt.Printf("  %-13s plain %6.2f s (devstack cpu %5.2f s)   counting %6.2f s (cpu %5.2f s)   ratio counting/plain: wall %.2f, cpu %.2f\n",
			p.name, off.wall.Seconds(), off.cpu.Seconds(), on.wall.Seconds(), on.cpu.Seconds(),
			on.wall.Seconds()/off.wall.Seconds(), on.cpu.Seconds()/off.cpu.Seconds())
	}
	fmt.Printf("  the counting devstack counted exactly %d PutObject 2xx and %d find per round\n", n, n)
	return nil
}

// median returns the median wall and the median CPU of ms (separately).
func median(ms []measure) measure {
	walls, cpus := make([]time.Duration, len(ms)), make([]time.Duration, len(ms))
	for i, m := range ms {
		walls[i], cpus[i] = m.wall, m.cpu
	}
	slices.Sort(walls)
	slices.Sort(cpus)
	return measure{walls[len(ms)/2], cpus[len(ms)/2]}
}

func docID(i int) string { return fmt.Sprintf("doc-%06d", i) }

// devstack is a running aind-devstack, its environment and clients.
type devstack struct {
	name string
	cmd  *exec.Cmd
	env  map[string]string
	s3   *s3.Client
	mc   *mongo.Client
	coll *mongo.Collection
}

// startDevstack starts aind-devstack with data under dir and waits for its env file.
func startDevstack(ctx context.Context, bin, dir string, args ...string) (*devstack, error) {
	name := filepath.Base(dir)
	progress("starting the %s devstack", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "devstack.log"))
	if err != nil {
		return nil, err
	}
	envFile := filepath.Join(dir, "devstack.env")
	cmd := exec.Command(bin, append([]string{"--dir", filepath.Join(dir, "data"), "--env-file", envFile}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &devstack{name: name, cmd: cmd}
	deadline := time.Now().Add(10 * time.Minute) // a cold versitygw build takes minutes
	for {
		if env, err := readEnvFile(envFile); err == nil && env["DEVSTACK_READY"] == "1" {
			d.env = env
			return d, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			d.stop()
			return nil, fmt.Errorf("the %s devstack is not ready after 10 minutes (or interrupted); see %s", name, logf.Name())
		}
		if err := syscall.Kill(cmd.Process.Pid, 0); err != nil {
			return nil, fmt.Errorf("the %s devstack exited; see %s", name, logf.Name())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// connect makes the clients and inserts the n documents the finds read.
func (d *devstack) connect(ctx context.Context, n int) error {
	d.s3 = s3.New(s3.Options{
		BaseEndpoint: aws.String(d.env["AWS_ENDPOINT_URL_S3"]),
		Region:       d.env["AWS_REGION"],
		Credentials:  credentials.NewStaticCredentialsProvider(d.env["AWS_ACCESS_KEY_ID"], d.env["AWS_SECRET_ACCESS_KEY"], ""),
		UsePathStyle: true,
	})
	mc, err := mongo.Connect(options.Client().ApplyURI(d.env["DOCDB_URI"]))
	if err != nil {
		return fmt.Errorf("connect to the %s devstack's DocDB: %w", d.name, err)
	}
	d.mc = mc
	d.coll = mc.Database("benchcounting").Collection("docs")
	docs := make([]any, n)
	for i := range docs {
		docs[i] = bson.D{{Key: "_id", Value: docID(i)}, {Key: "v", Value: i}}
	}
	if _, err := d.coll.InsertMany(ctx, docs); err != nil {
		return fmt.Errorf("insert the documents to find into the %s devstack: %w", d.name, err)
	}
	return nil
}

// time runs f and returns its wall time and the CPU time the devstack used meanwhile.
func (d *devstack) time(f func() error) (measure, error) {
	cpu0, err := d.cpu()
	if err != nil {
		return measure{}, err
	}
	start := time.Now()
	if err := f(); err != nil {
		return measure{}, err
	}
	wall := time.Since(start)
	cpu1, err := d.cpu()
	return measure{wall, cpu1 - cpu0}, err
}

// counts reads and zeroes the counting devstack's counts, flattened to "s3 <kind>" and
// "docdb <command>".
func (d *devstack) counts(ctx context.Context) (map[string]int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.env["DEVSTACK_REQUESTS_URL"]+"/reset", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read the request counts: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read the request counts: %s", resp.Status)
	}
	var doc struct {
		S3 struct {
			Requests map[string]int64 `json:"requests"`
		} `json:"s3"`
		DocDB struct {
			Commands map[string]int64 `json:"commands"`
		} `json:"docdb"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode the request counts: %w", err)
	}
	out := map[string]int64{}
	for k, v := range doc.S3.Requests {
		out["s3 "+k] = v
	}
	for k, v := range doc.DocDB.Commands {
		out["docdb "+k] = v
	}
	return out, nil
}

// stop disconnects and stops the devstack with SIGTERM (SIGKILL after 20 s).
func (d *devstack) stop() {
	if d.mc != nil {
		_ = d.mc.Disconnect(context.Background())
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
	}
}

// cpu returns the CPU time (user + system) the devstack process and its children (versitygw) have used.
func (d *devstack) cpu() (time.Duration, error) {
	pid := d.cmd.Process.Pid
	pids := []int{pid}
	threads, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range threads {
		b, _ := os.ReadFile(f)
		for _, c := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(c); err == nil {
				pids = append(pids, p)
			}
		}
	}
	var total time.Duration
	for _, p := range pids {
		t, err := processCPU(p)
		if err != nil {
			return 0, err
		}
		total += t
	}
	return total, nil
}

// processCPU reads utime + stime of pid from /proc/<pid>/stat (clock ticks of 1/100 s,
// the USER_HZ Linux reports to user space).
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after it start past ")".
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// readEnvFile reads the devstack's "export KEY=VALUE" lines.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "="); ok {
			env[k] = v
		}
	}
	return env, sc.Err()
}

// load is the 1-minute load average.
func load() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "== "+format+"\n", args...)
}
