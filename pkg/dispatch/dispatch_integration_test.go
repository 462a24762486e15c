package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/allenneuraldynamics/aind-analysis-go/internal/testkit/devstacktest"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/dispatch"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/docdb"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/params"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

func TestMain(m *testing.M) { os.Exit(devstacktest.Main(m)) }

// fixture is a small, fully known asset collection in its own database and bucket.
type fixture struct {
	env      *devstacktest.Env
	db       string
	bucket   string
	loc      map[string]string // asset id -> location
	finds    *atomic.Int64     // find commands sent to the results collection
	client   docdb.Backend
	results  docdb.Store
	assets   docdb.Store
	lister   *storage.Router
	resultsC string
}

// Assets (ids sort in this order): a1 and a2 are two processings of session s1 of subject
// 100 (a2 is later); a3 holds a zarr NWB folder; b1 has no NWB; n1 has a null subject;
// x1 is outside the queried project.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := devstacktest.Get(t)
	env.Setenv(t)
	f := &fixture{env: env, db: env.NewDatabase(t), bucket: env.NewBucket(t), loc: map[string]string{}, finds: &atomic.Int64{}, resultsC: "results"}
	type asset struct {
		id, subject, session, created string
		modality                      []string
		files                         []string
		project                       string
	}
	assets := []asset{
		{"a1", "100", "s1", "2025-01-01T10:00:00Z", []string{"behavior", "fib"}, []string{"nwb/a1.nwb", "data_description.json"}, "P"},
		{"a2", "100", "s1", "2025-01-03T10:00:00Z", []string{"behavior"}, []string{"nwb/a2.nwb", "nwb/a2b.nwb", "data_description.json"}, "P"},
		{"a3", "100", "s2", "2025-01-02T10:00:00Z", []string{"fib"}, []string{"nwb/a3.nwb/.zattrs", "nwb/a3.nwb/acquisition/.zgroup"}, "P"},
		{"b1", "200", "s3", "2025-02-01T10:00:00Z", []string{"behavior"}, []string{"data_description.json"}, "P"},
		{"b2", "200", "s4", "2025-02-02T10:00:00Z", []string{"behavior"}, []string{"nwb/b2.nwb"}, "P"},
		{"n1", "", "s5", "2025-03-01T10:00:00Z", []string{"behavior"}, []string{"nwb/n1.nwb"}, "P"},
		{"x1", "300", "s6", "2025-03-01T10:00:00Z", []string{"behavior"}, []string{"nwb/x1.nwb"}, "other"},
	}
	var docs []any
	objects := map[string]string{}
	for _, a := range assets {
		loc := "s3://" + f.bucket + "/" + a.id
		f.loc[a.id] = loc
		var subject any = a.subject
		if a.subject == "" {
			subject = nil
		}
		docs = append(docs, bson.D{
			{Key: "_id", Value: a.id},
			{Key: "name", Value: "asset_" + a.id},
			{Key: "location", Value: loc},
			{Key: "created", Value: a.created},
			{Key: "subject", Value: bson.D{{Key: "subject_id", Value: subject}}},
			{Key: "session", Value: a.session},
			{Key: "data_description", Value: bson.D{{Key: "project_name", Value: a.project}, {Key: "modality", Value: a.modality}}},
			{Key: "external_links", Value: bson.D{{Key: "Code Ocean", Value: []string{"co-" + a.id}}}},
		})
		for _, file := range a.files {
			objects[a.id+"/"+file] = "x"
		}
	}
	env.InsertDocs(t, f.db, "data_assets", docs)
	env.PutObjects(t, f.bucket, objects)
	monitor := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if e.CommandName == "find" && e.DatabaseName == f.db {
			if coll, ok := e.Command.Lookup("find").StringValueOK(); ok && coll == f.resultsC {
				f.finds.Add(1)
			}
		}
	}}
	// Through the gateway, queries of the results collection are counted as HTTP requests.
	cfg := env.DocDBConfig(devstacktest.DocDBBackend())
	cfg.Monitor = monitor
	cfg.HTTPClient = &http.Client{Transport: countRequests{prefix: "/" + f.db + "/" + f.resultsC + "/", n: f.finds}}
	client := env.OpenDocDBWith(t, cfg)
	f.client = client
	var err error
	f.assets = client.Collection(f.db, "data_assets")
	f.results = client.Collection(f.db, f.resultsC)
	f.lister, err = storage.New(context.Background(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// countRequests counts the gateway requests whose path holds prefix.
type countRequests struct {
	prefix string
	n      *atomic.Int64
}

func (c countRequests) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, c.prefix+"find") || strings.HasSuffix(req.URL.Path, c.prefix+"aggregate") {
		c.n.Add(1)
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (f *fixture) options(t *testing.T) dispatch.Options {
	return dispatch.Options{
		Query:          bson.D{{Key: "data_description.project_name", Value: "P"}},
		QueryText:      `{"data_description.project_name":"P"}`,
		DropNullGroups: true,
		SplitFiles:     true,
		TasksPerJob:    1,
		MaxTasks:       1000,
		OutputDir:      filepath.Join(t.TempDir(), "results"),
		Concurrency:    4,
	}
}

func (f *fixture) run(t *testing.T, o dispatch.Options) (dispatch.Stats, error) {
	t.Helper()
	return dispatch.Run(context.Background(), o, dispatch.Deps{Finder: f.assets, Done: f.results, Lister: f.lister, Log: zerolog.Nop()})
}

// readOutput returns the jobs per task folder.
func readOutput(t *testing.T, dir string) map[string][]job.Job {
	t.Helper()
	out := map[string][]job.Job{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		files, err := job.ReadDir(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, fl := range files {
			if want, _ := fl.Job.FileName(); want != filepath.Base(fl.Path) {
				t.Fatalf("job file %s is not named by its content (%s)", fl.Path, want)
			}
			out[e.Name()] = append(out[e.Name()], fl.Job)
		}
	}
	return out
}

func allJobs(out map[string][]job.Job) []job.Job {
	var all []job.Job
	for _, js := range out {
		all = append(all, js...)
	}
	return all
}

// summary renders jobs as sorted "ids|files|params" strings for comparison.
func summarize(f *fixture, jobs []job.Job) []string {
	var s []string
	for _, j := range jobs {
		files := make([]string, len(j.FileLocation))
		for i, fl := range j.FileLocation {
			files[i] = strings.TrimPrefix(fl, "s3://"+f.bucket+"/")
		}
		p := ""
		if j.DistributedParameters != nil {
			b, _ := json.Marshal(j.DistributedParameters)
			p = string(b)
		}
		s = append(s, strings.Join(j.DocDBRecordID, ",")+"|"+strings.Join(files, ",")+"|"+p)
	}
	sort.Strings(s)
	return s
}

func TestDispatchSelection(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		change func(*dispatch.Options)
		want   []string
		check  func(t *testing.T, st dispatch.Stats, jobs []job.Job)
	}{
		{
			name: "one job per record",
			want: []string{"a1||", "a2||", "a3||", "b1||", "b2||", "n1||"},
			check: func(t *testing.T, st dispatch.Stats, jobs []job.Job) {
				for _, j := range jobs {
					if j.Query == nil || *j.Query != `{"data_description.project_name":"P"}` || j.GroupMetadata != nil || j.FileLocation != nil {
						t.Fatalf("job %+v: query not recorded or unexpected fields", j)
					}
					if j.AssetName[0] != "asset_"+j.DocDBRecordID[0] || j.S3Location[0] != f.loc[j.DocDBRecordID[0]] {
						t.Fatalf("job %+v: name/location do not match record", j)
					}
				}
				if st.Records != 6 || st.Written != 6 {
					t.Fatalf("stats %+v", st)
				}
			},
		},
		{
			name:   "group by subject drops null subjects",
			change: func(o *dispatch.Options) { o.GroupBy = []string{"subject.subject_id"} },
			want:   []string{"a1,a2,a3||", "b1,b2||"},
			check: func(t *testing.T, st dispatch.Stats, jobs []job.Job) {
				for _, j := range jobs {
					got := j.GroupMetadata["subject__subject_id"]
					if want := map[string]string{"a1": "100", "b1": "200"}[j.DocDBRecordID[0]]; got != want {
						t.Fatalf("group_metadata %v, want subject %s", j.GroupMetadata, want)
					}
				}
				if st.DroppedNull != 1 || st.Groups != 2 {
					t.Fatalf("stats %+v", st)
				}
			},
		},
		{
			name:   "group by subject keeping null groups",
			change: func(o *dispatch.Options) { o.GroupBy = []string{"subject.subject_id"}; o.DropNullGroups = false },
			want:   []string{"a1,a2,a3||", "b1,b2||", "n1||"},
		},
		{
			name:   "group by two fields",
			change: func(o *dispatch.Options) { o.GroupBy = []string{"subject.subject_id", "session"} },
			want:   []string{"a1,a2||", "a3||", "b1||", "b2||"},
			check: func(t *testing.T, _ dispatch.Stats, jobs []job.Job) {
				for _, j := range jobs {
					if len(j.GroupMetadata) != 2 || j.GroupMetadata["session"] == nil {
						t.Fatalf("group_metadata %v", j.GroupMetadata)
					}
				}
			},
		},
		{
			name:   "latest per session",
			change: func(o *dispatch.Options) { o.FilterLatest = "created"; o.FilterBy = []string{"session"} },
			want:   []string{"a2||", "a3||", "b1||", "b2||", "n1||"},
			check: func(t *testing.T, st dispatch.Stats, _ []job.Job) {
				if st.NotLatest != 1 {
					t.Fatalf("stats %+v", st)
				}
			},
		},
		{
			name: "latest per subject, then grouped by subject",
			change: func(o *dispatch.Options) {
				o.FilterLatest, o.FilterBy, o.GroupBy = "created", []string{"subject.subject_id"}, []string{"subject.subject_id"}
			},
			want: []string{"a2||", "b2||"},
		},
		{
			name: "unwind a list field and group by its elements",
			change: func(o *dispatch.Options) {
				o.UnwindListFields = []string{"data_description.modality"}
				o.GroupBy = []string{"data_description.modality"}
			},
			want: []string{"a1,a2,b1,b2,n1||", "a1,a3||"},
			check: func(t *testing.T, _ dispatch.Stats, jobs []job.Job) {
				seen := map[any]bool{}
				for _, j := range jobs {
					seen[j.GroupMetadata["data_description__modality"]] = true
				}
				if !seen["behavior"] || !seen["fib"] {
					t.Fatalf("groups %v", seen)
				}
			},
		},
		{
			name:   "files, one job per file",
			change: func(o *dispatch.Options) { o.FileExtension = ".nwb" },
			want:   []string{"a1|a1/nwb/a1.nwb|", "a2|a2/nwb/a2.nwb|", "a2|a2/nwb/a2b.nwb|", "a3|a3/nwb/a3.nwb|", "b2|b2/nwb/b2.nwb|", "n1|n1/nwb/n1.nwb|"},
			check: func(t *testing.T, st dispatch.Stats, _ []job.Job) {
				if st.AssetsWithoutFiles != 1 {
					t.Fatalf("stats %+v: b1 has no .nwb", st)
				}
			},
		},
		{
			name: "files of a group kept together, assets without files left out",
			change: func(o *dispatch.Options) {
				o.FileExtension, o.SplitFiles, o.GroupBy = ".nwb", false, []string{"subject.subject_id"}
			},
			want: []string{"a1,a2,a3|a1/nwb/a1.nwb,a2/nwb/a2.nwb,a2/nwb/a2b.nwb,a3/nwb/a3.nwb|", "b2|b2/nwb/b2.nwb|"},
			check: func(t *testing.T, _ dispatch.Stats, jobs []job.Job) {
				for _, j := range jobs {
					if len(j.AssetName) != len(j.S3Location) || j.GroupMetadata == nil {
						t.Fatalf("grouped file job lost its names or metadata: %+v", j)
					}
				}
			},
		},
		{
			name: "parameter sweep",
			change: func(o *dispatch.Options) {
				o.GroupBy = []string{"subject.subject_id"}
				o.Parameters = params.File{Distributed: []map[string]any{{"cutoff": 0.05}, {"cutoff": 0.5}}}
			},
			want: []string{`a1,a2,a3||{"cutoff":0.05}`, `a1,a2,a3||{"cutoff":0.5}`, `b1,b2||{"cutoff":0.05}`, `b1,b2||{"cutoff":0.5}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := f.options(t)
			if tt.change != nil {
				tt.change(&o)
			}
			st, err := f.run(t, o)
			if err != nil {
				t.Fatal(err)
			}
			jobs := allJobs(readOutput(t, o.OutputDir))
			if got := summarize(f, jobs); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("jobs\n got %q\nwant %q", got, tt.want)
			}
			if st.Written != len(tt.want) {
				t.Fatalf("stats say %d written, found %d", st.Written, len(tt.want))
			}
			if tt.check != nil {
				tt.check(t, st, jobs)
			}
		})
	}
}

func TestDispatchBatchingAndLimit(t *testing.T) {
	f := newFixture(t)
	t.Run("tasks per job", func(t *testing.T) {
		o := f.options(t)
		o.TasksPerJob = 4
		st, err := f.run(t, o)
		if err != nil {
			t.Fatal(err)
		}
		out := readOutput(t, o.OutputDir)
		if len(out) != 2 || len(out["0"]) != 4 || len(out["1"]) != 2 || st.Folders != 2 {
			t.Fatalf("folders %v, stats %+v", len(out), st)
		}
	})
	t.Run("max tasks", func(t *testing.T) {
		o := f.options(t)
		o.MaxTasks = 3
		st, err := f.run(t, o)
		if err != nil {
			t.Fatal(err)
		}
		got := summarize(f, allJobs(readOutput(t, o.OutputDir)))
		if want := []string{"a1||", "a2||", "a3||"}; !reflect.DeepEqual(got, want) || !st.StoppedAtMax {
			t.Fatalf("jobs %q (want the first three by _id), stats %+v", got, st)
		}
	})
	t.Run("deterministic output", func(t *testing.T) {
		o1, o2 := f.options(t), f.options(t)
		o1.FileExtension, o2.FileExtension = ".nwb", ".nwb"
		o1.TasksPerJob, o2.TasksPerJob = 2, 2
		for _, o := range []dispatch.Options{o1, o2} {
			if _, err := f.run(t, o); err != nil {
				t.Fatal(err)
			}
		}
		if a, b := tree(t, o1.OutputDir), tree(t, o2.OutputDir); !reflect.DeepEqual(a, b) {
			t.Fatalf("two runs differ:\n%v\n%v", a, b)
		}
	})
}

// tree maps every file under dir (relative path) to its content.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDispatchSkipsDoneJobsWithOneLookup(t *testing.T) {
	f := newFixture(t)
	o := f.options(t)
	o.FileExtension = ".nwb"
	o.Parameters = params.File{Fixed: map[string]any{"analysis_name": "x"}, Distributed: []map[string]any{{"cutoff": 1}, {"cutoff": 2}}}
	o.Code = identity.CodeInfo{URL: "https://example.org/analysis", Version: "1.0.0", RunScript: "code/run"}

	// A first run writes 12 jobs, each carrying its identity.
	first := f.options(t)
	first.FileExtension, first.Parameters, first.Code = o.FileExtension, o.Parameters, o.Code
	st, err := f.run(t, first)
	if err != nil || st.Written != 12 {
		t.Fatalf("first run: %+v %v", st, err)
	}
	jobs := allJobs(readOutput(t, first.OutputDir))
	// Record three of them as done, under the hash the wrapper will compute.
	done := map[string]bool{}
	for _, j := range jobs[:3] {
		if j.AnalysisCode == nil {
			t.Fatal("job without analysis_code although code identity was given")
		}
		merged, _ := params.Merge(append(o.Parameters.Layers(), params.Layer{Values: j.DistributedParameters})...)
		h, err := j.Code(o.Code, merged).Hash()
		if err != nil {
			t.Fatal(err)
		}
		if h2, _ := j.AnalysisCode.Hash(); h2 != h {
			t.Fatalf("analysis_code in the job hashes to %s, recomputed %s", h2, h)
		}
		done[h] = true
		if err := f.results.Upsert(context.Background(), h, bson.D{{Key: "_id", Value: h}, {Key: "name", Value: h}}); err != nil {
			t.Fatal(err)
		}
	}
	f.finds.Store(0)
	st, err = f.run(t, o)
	if err != nil {
		t.Fatal(err)
	}
	if st.SkippedDone != 3 || st.Written != 9 || st.DoneLookups != 1 {
		t.Fatalf("stats %+v: want 3 skipped, 9 written, 1 lookup", st)
	}
	// One batched lookup of the 12 ids: the devstack's FerretDB, which scans the whole
	// collection for $in, is asked one id at a time (docdb.Collection.Existing); MongoDB and
	// DocumentDB get one $in. Through the HTTP gateway the client sends one $in, which the
	// gateway forwards as one find.
	want := int64(12)
	if devstacktest.DocDBBackend() == "gateway" {
		want = 1
	}
	if n := f.finds.Load(); int64(n) != want {
		t.Fatalf("%d find commands on the results collection through %s, want %d for the one batched lookup", n, devstacktest.DocDBBackend(), want)
	}
	for _, j := range allJobs(readOutput(t, o.OutputDir)) {
		if h, _ := j.AnalysisCode.Hash(); done[h] {
			t.Fatalf("done job %s was written again", h)
		}
	}
}

func TestDispatchEmptyWritesPlaceholder(t *testing.T) {
	f := newFixture(t)
	o := f.options(t)
	o.Query = bson.D{{Key: "data_description.project_name", Value: "nothing"}}
	st, err := f.run(t, o)
	if err != nil {
		t.Fatalf("empty selection failed: %v", err)
	}
	entries, _ := os.ReadDir(o.OutputDir)
	if st.Written != 0 || len(entries) != 1 || entries[0].Name() != dispatch.PlaceholderName {
		t.Fatalf("output %v, stats %+v", entries, st)
	}
	b, _ := os.ReadFile(filepath.Join(o.OutputDir, dispatch.PlaceholderName))
	if !strings.Contains(string(b), "no DocDB record matched") {
		t.Fatalf("placeholder does not explain: %s", b)
	}
}

func TestDispatchErrorsLeaveNoOutput(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name      string
		change    func(*dispatch.Options)
		usage     bool
		transient bool
		want      string
	}{
		{"filter_latest without filter_by", func(o *dispatch.Options) { o.FilterLatest = "created" }, true, false, "filter_by"},
		{"split files of a group", func(o *dispatch.Options) { o.FileExtension = ".nwb"; o.GroupBy = []string{"subject.subject_id"} }, true, false, "split_files"},
		{"zero tasks per job", func(o *dispatch.Options) { o.TasksPerJob = 0 }, true, false, "tasks_per_job"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := f.options(t)
			tt.change(&o)
			_, err := f.run(t, o)
			if err == nil || !strings.Contains(err.Error(), tt.want) || fault.IsUsage(err) != tt.usage {
				t.Fatalf("error %v: want usage=%v naming %s", err, tt.usage, tt.want)
			}
			if _, serr := os.Stat(o.OutputDir); !errors.Is(serr, os.ErrNotExist) {
				t.Fatalf("output directory left behind after error")
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(o.OutputDir), ".*")); len(left) != 0 {
				t.Fatalf("staging left behind: %v", left)
			}
		})
	}
	t.Run("non-empty output directory", func(t *testing.T) {
		o := f.options(t)
		if err := os.MkdirAll(filepath.Join(o.OutputDir, "0"), 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := f.run(t, o)
		if !fault.IsUsage(err) || !strings.Contains(err.Error(), "not empty") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("S3 unreachable during discovery", func(t *testing.T) {
		t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
		lister, err := storage.New(context.Background(), storage.Options{S3: storage.S3Options{MaxAttempts: 2}})
		if err != nil {
			t.Fatal(err)
		}
		o := f.options(t)
		o.FileExtension = ".nwb"
		_, err = dispatch.Run(context.Background(), o, dispatch.Deps{Finder: f.assets, Lister: lister, Log: zerolog.Nop()})
		if !fault.IsTransient(err) || !strings.Contains(err.Error(), "s3://"+f.bucket) {
			t.Fatalf("error %v: want transient naming the asset", err)
		}
		if _, serr := os.Stat(o.OutputDir); !errors.Is(serr, os.ErrNotExist) {
			t.Fatalf("output directory left behind after error")
		}
	})
}
