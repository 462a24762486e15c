package foraging

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
	"github.com/parquet-go/parquet-go"
)

// realSessions are the real trial tables of mouse 816886 in testdata/foraging.
var realSessions = []string{"816886_2026-01-07", "816886_2026-01-08"}

func testdata(parts ...string) string {
	return filepath.Join(append([]string{"..", "..", "testdata", "foraging"}, parts...)...)
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func loadOne(t testing.TB, dir string) *Session {
	t.Helper()
	found, err := FindTables(context.Background(), storage.NewLocal(), job.Job{S3Location: []string{dir}})
	if err != nil || len(found) != 1 {
		t.Fatalf("FindTables(%s) = %d folders, %v", dir, len(found), err)
	}
	s, err := LoadSession(context.Background(), storage.NewLocal(), found[0], func(string, ...any) {})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// synthetic is the df_fip of each real session (DefaultSynth, seed per session), encoded
// once per test binary, and the implied slope of each channel.
var synthetic struct {
	once    sync.Once
	fip     map[string][]byte
	implied map[string]map[string]float64
	err     error
}

// syntheticAsset builds one asset folder per real session under root, with the real
// df_trials and df_events and a synthetic df_fip. It returns the asset folders and, per
// session, the implied slope of each channel.
func syntheticAsset(t testing.TB, root string) ([]string, map[string]map[string]float64) {
	t.Helper()
	synthetic.once.Do(func() {
		synthetic.fip = map[string][]byte{}
		synthetic.implied = map[string]map[string]float64{}
		for i, ses := range realSessions {
			s := loadOne(t, testdata("816886", ses))
			cfg := DefaultSynth()
			cfg.Seed += uint64(i)
			chans := []string{"G_0_dff-bright_mc-iso-IRLS", "G_1_dff-bright_mc-iso-IRLS"}
			traces := Synthesize(s.Trials, chans, cfg, DefaultParams())
			synthetic.implied[ses] = map[string]float64{}
			for _, tr := range traces {
				synthetic.implied[ses][strings.SplitN(tr.Event, "_dff", 2)[0]] = tr.ImpliedSlope
			}
			var buf bytes.Buffer
			if err := parquet.Write(&buf, FIPRows(ses, traces)); err != nil {
				synthetic.err = err
				return
			}
			synthetic.fip[ses] = buf.Bytes()
		}
	})
	if synthetic.err != nil {
		t.Fatal(synthetic.err)
	}
	var assets []string
	for _, ses := range realSessions {
		asset := filepath.Join(root, "asset_"+ses)
		dir := filepath.Join(asset, ses)
		for _, f := range []string{"df_trials.parquet", "df_events.parquet"} {
			copyFile(t, testdata("816886", ses, f), filepath.Join(dir, f))
		}
		if err := os.WriteFile(filepath.Join(dir, "df_fip.parquet"), synthetic.fip[ses], 0o644); err != nil {
			t.Fatal(err)
		}
		assets = append(assets, asset)
	}
	return assets, synthetic.implied
}
