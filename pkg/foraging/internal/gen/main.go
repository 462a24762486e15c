// Command gen regenerates the foraging example's synthetic data, deterministically (fixed
// seeds): from the real trial tables of mouse 816886 in testdata/foraging/816886/, it
// writes per-session assets with a synthetic df_fip (G_0 responds to RPE, G_1 is a
// control) under testdata/devstack/s3/<bucket>/, for mouse 816886 (parquet tables) and a
// second synthetic mouse 900001 (CSV trial and event tables, later dates); their DocDB
// records go to the devstack collection metadata_index.foraging_assets
// (testdata/devstack/docdb/metadata_index/foraging_assets.json) and the slopes the
// analysis should recover to testdata/foraging/implied_slopes.json.
//
// Run it from the repository root: go run ./pkg/foraging/internal/gen
package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/foraging"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
	"github.com/parquet-go/parquet-go"
)

// Bucket is the devstack bucket of the foraging example assets.
const Bucket = "aind-foraging-devstack"

type mouse struct {
	subject string
	dates   []string // one per source session, in order
	csv     bool
	seed    uint64
	ids     []string
}

func main() {
	root := flag.String("root", ".", "repository root")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	ctx := context.Background()
	src := filepath.Join(root, "testdata", "foraging", "816886")
	dirs, err := filepath.Glob(filepath.Join(src, "816886_*"))
	if err != nil || len(dirs) == 0 {
		return fmt.Errorf("no sessions under %s", src)
	}
	sort.Strings(dirs)
	mice := []mouse{
		{subject: "816886", dates: []string{"2026-01-07", "2026-01-08"}, seed: 816886,
			ids: []string{"6c1b7d2e-5f0a-4c43-9a0e-3f0d5b1e8a01", "6c1b7d2e-5f0a-4c43-9a0e-3f0d5b1e8a02"}},
		{subject: "900001", dates: []string{"2026-01-14", "2026-01-21"}, csv: true, seed: 900001,
			ids: []string{"6c1b7d2e-5f0a-4c43-9a0e-3f0d5b1e8a03", "6c1b7d2e-5f0a-4c43-9a0e-3f0d5b1e8a04"}},
	}
	var records []assetRecord
	implied := map[string]map[string]float64{}
	channels := []string{"G_0_dff-bright_mc-iso-IRLS", "G_1_dff-bright_mc-iso-IRLS"}
	for _, m := range mice {
		for i, dir := range dirs {
			sess, err := loadTrials(ctx, dir)
			if err != nil {
				return err
			}
			ses := m.subject + "_" + m.dates[i]
			asset := fmt.Sprintf("foraging_%s_%s_13-00-00_processed_%s_23-00-00", m.subject, m.dates[i], m.dates[i])
			out := filepath.Join(root, "testdata", "devstack", "s3", Bucket, asset, ses)
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			cfg := foraging.DefaultSynth()
			cfg.Seed = m.seed + uint64(i)
			traces := foraging.Synthesize(sess.Trials, channels, cfg, foraging.DefaultParams())
			implied[ses] = map[string]float64{}
			for _, tr := range traces {
				implied[ses][strings.SplitN(tr.Event, "_dff", 2)[0]] = tr.ImpliedSlope
			}
			if err := parquet.WriteFile(filepath.Join(out, "df_fip.parquet"), foraging.FIPRows(ses, traces)); err != nil {
				return fmt.Errorf("writing df_fip of %s: %w", ses, err)
			}
			if m.csv {
				if err := writeCSVTables(ctx, dir, out, ses); err != nil {
					return err
				}
			} else {
				for _, f := range []string{"df_trials.parquet", "df_events.parquet"} {
					b, err := os.ReadFile(filepath.Join(dir, f))
					if err != nil {
						return err
					}
					if err := os.WriteFile(filepath.Join(out, f), b, 0o644); err != nil {
						return err
					}
				}
			}
			records = append(records, record(m.ids[i], asset, m.subject, m.dates[i]))
		}
	}
	if err := writeJSON(filepath.Join(root, "testdata", "devstack", "docdb", "metadata_index", "foraging_assets.json"), records); err != nil {
		return err
	}
	return writeJSON(filepath.Join(root, "testdata", "foraging", "implied_slopes.json"), implied)
}

func loadTrials(ctx context.Context, dir string) (*foraging.Session, error) {
	j := job.Job{S3Location: []string{dir}}
	found, err := foraging.FindTables(ctx, storage.NewLocal(), j)
	if err != nil || len(found) != 1 {
		return nil, fmt.Errorf("tables under %s: %v (%d folders)", dir, err, len(found))
	}
	return foraging.LoadSession(ctx, storage.NewLocal(), found[0], func(string, ...any) {})
}

// writeCSVTables writes reduced df_trials and df_events as CSV, with the new ses_idx.
func writeCSVTables(ctx context.Context, dir, out, ses string) error {
	for _, tbl := range []struct {
		name string
		cols []string
	}{
		{"df_trials", []string{"trial", "choice", "earned_reward", "extra_reward", "goCue_start_time_in_session", "choice_time_in_session", "Q_chosen", "RPE_earned", "num_reward_past", "week_interval"}},
		{"df_events", []string{"timestamps", "event", "trial"}},
	} {
		b, err := os.ReadFile(filepath.Join(dir, tbl.name+".parquet"))
		if err != nil {
			return err
		}
		t, err := foraging.ReadTable(b, tbl.name)
		if err != nil {
			return err
		}
		f, err := os.Create(filepath.Join(out, tbl.name+".csv"))
		if err != nil {
			return err
		}
		w := csv.NewWriter(f)
		_ = w.Write(append(append([]string{}, tbl.cols...), "ses_idx"))
		cols := make([][]string, len(tbl.cols))
		for j, c := range tbl.cols {
			if v, err := t.Float(c); err == nil {
				cols[j] = make([]string, len(v))
				for i, x := range v {
					if !math.IsNaN(x) {
						cols[j][i] = strconv.FormatFloat(x, 'g', -1, 64)
					}
				}
			} else if cols[j], err = t.String(c); err != nil {
				f.Close()
				return err
			}
		}
		for i := 0; i < t.Rows; i++ {
			row := make([]string, 0, len(cols)+1)
			for j := range cols {
				row = append(row, cols[j][i])
			}
			_ = w.Write(append(row, ses))
		}
		w.Flush()
		if err := w.Error(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// assetRecord is a DocDB data-asset record, fields in the order of the seed's records.
type assetRecord struct {
	ID              string              `json:"_id"`
	Name            string              `json:"name"`
	Location        string              `json:"location"`
	Subject         map[string]string   `json:"subject"`
	Created         string              `json:"created"`
	DataDescription dataDescription     `json:"data_description"`
	ExternalLinks   map[string][]string `json:"external_links"`
}

type dataDescription struct {
	ProjectName           string              `json:"project_name"`
	ProcessName           string              `json:"process_name"`
	Modality              []map[string]string `json:"modality"`
	ModalityAbbreviations []string            `json:"modality_abbreviations"`
}

func record(id, asset, subject, date string) assetRecord {
	return assetRecord{
		ID: id, Name: asset, Location: "s3://" + Bucket + "/" + asset,
		Subject: map[string]string{"subject_id": subject}, Created: date + "T23:00:00Z",
		DataDescription: dataDescription{
			ProjectName: "Dynamic Foraging", ProcessName: "processed",
			Modality:              []map[string]string{{"name": "Behavior", "abbreviation": "behavior"}, {"name": "Fiber photometry", "abbreviation": "fib"}},
			ModalityAbbreviations: []string{"behavior", "fib"},
		},
		ExternalLinks: map[string][]string{"Code Ocean": {id}},
	}
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
