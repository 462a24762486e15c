package foraging

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/wrapper"
	"github.com/parquet-go/parquet-go"
	"github.com/rs/zerolog"
)

func runOn(t *testing.T, assets []string, params map[string]any) (map[string]any, error) {
	t.Helper()
	return Run(context.Background(), wrapper.Input{Job: job.Job{S3Location: assets}, Parameters: params,
		OutputDir: t.TempDir(), Store: storage.NewLocal(), Log: zerolog.Nop()})
}

func warningsOf(out map[string]any) string {
	var w []string
	for _, x := range out["warnings"].([]any) {
		w = append(w, x.(string))
	}
	return strings.Join(w, "\n")
}

// TestBadInputs: each problem is a clear error naming the file or column, or a warning
// recorded in outputs.json.
func TestBadInputs(t *testing.T) {
	only := map[string]any{"channels": map[string]any{"G_0": "G_0"}, "plots": []any{}}
	tests := []struct {
		name     string
		mutate   func(t *testing.T, assets []string)
		params   map[string]any
		wantErr  string // substring of the error, or "" for success
		wantWarn string
	}{
		{"missing df_trials", func(t *testing.T, a []string) {
			os.Remove(filepath.Join(a[0], realSessions[0], "df_trials.parquet"))
		}, only, "no df_trials table", ""},
		{"malformed CSV df_trials", func(t *testing.T, a []string) {
			dir := filepath.Join(a[0], realSessions[0])
			os.Remove(filepath.Join(dir, "df_trials.parquet"))
			os.WriteFile(filepath.Join(dir, "df_trials.csv"), []byte("choice,earned_reward\n1,True\n0\n"), 0o644)
		}, only, "line 3 has 1 fields", ""},
		{"df_trials without a needed column", func(t *testing.T, a []string) {
			dir := filepath.Join(a[0], realSessions[0])
			os.Remove(filepath.Join(dir, "df_trials.parquet"))
			os.WriteFile(filepath.Join(dir, "df_trials.csv"), []byte("choice,earned_reward\n1,True\n"), 0o644)
		}, only, `df_trials.csv: missing column "goCue_start_time_in_session"`, ""},
		{"corrupt parquet", func(t *testing.T, a []string) {
			os.WriteFile(filepath.Join(a[0], realSessions[0], "df_fip.parquet"), []byte("PAR1garbage"), 0o644)
		}, only, "reading parquet", ""},
		{"no finished trials", func(t *testing.T, a []string) {
			dir := filepath.Join(a[0], realSessions[0])
			os.Remove(filepath.Join(dir, "df_trials.parquet"))
			os.WriteFile(filepath.Join(dir, "df_trials.csv"), []byte("choice,earned_reward,goCue_start_time_in_session,choice_time_in_session,Q_chosen,ses_idx\n2,False,0,,0.5,816886_2026-01-07\n"), 0o644)
		}, only, "has no finished trials", ""},
		{"channel absent from one session", func(t *testing.T, a []string) {
			writeFIP(t, filepath.Join(a[0], realSessions[0], "df_fip.parquet"), "G_1_dff-bright_mc-iso-IRLS")
		}, only, "", `channel G_0 (event "G_0_dff-bright_mc-iso-IRLS") absent`},
		{"channel absent everywhere", nil, map[string]any{"channels": map[string]any{"R_3": "x"}, "plots": []any{}}, `channel R_3 (df_fip event "R_3_dff-bright_mc-iso-IRLS") is in no session`, ""},
		{"missing df_fip and df_events", func(t *testing.T, a []string) {
			os.Remove(filepath.Join(a[0], realSessions[0], "df_fip.parquet"))
			os.Remove(filepath.Join(a[0], realSessions[0], "df_events.parquet"))
		}, only, "", "no df_fip table"},
		{"all-NaN response windows", func(t *testing.T, a []string) {
			writeFIP(t, filepath.Join(a[0], realSessions[0], "df_fip.parquet"), "G_0_dff-bright_mc-iso-IRLS")
		}, only, "", "have no samples in the response window (all NaN)"},
		{"two sessions on one day: the one with more finished trials is kept", func(t *testing.T, a []string) {
			for _, f := range []string{"df_trials.parquet", "df_events.parquet", "df_fip.parquet"} {
				copyFile(t, filepath.Join(a[0], realSessions[0], f), filepath.Join(a[1], "rerun", f))
			}
		}, only, "", "two sessions on 2026-01-07"},
		{"sessions of two subjects without group metadata", func(t *testing.T, a []string) {
			dir := filepath.Join(a[1], realSessions[1])
			os.Remove(filepath.Join(dir, "df_trials.parquet"))
			os.WriteFile(filepath.Join(dir, "df_trials.csv"), []byte("choice,earned_reward,goCue_start_time_in_session,choice_time_in_session,Q_chosen,ses_idx\n1,True,10,10.5,0.5,900001_2026-01-08\n"), 0o644)
		}, only, "the job holds sessions of 2 subjects (816886, 900001)", ""},
		{"no tables at all", func(t *testing.T, a []string) {
			os.RemoveAll(a[0])
			os.RemoveAll(a[1])
		}, only, "no df_trials/df_events/df_fip tables", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assets, _ := syntheticAsset(t, t.TempDir())
			if tc.mutate != nil {
				tc.mutate(t, assets)
			}
			out, err := runOn(t, assets, tc.params)
			switch {
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			case tc.wantErr == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.wantWarn != "" && !strings.Contains(warningsOf(out), tc.wantWarn):
				t.Fatalf("warnings %q, want one containing %q", warningsOf(out), tc.wantWarn)
			}
			if err != nil {
				t.Logf("error: %v", err)
			}
		})
	}
}

// writeFIP writes a df_fip with one short channel of a few samples far from any trial.
func writeFIP(t *testing.T, path, event string) {
	t.Helper()
	rows := []FIPRow{{0, 1, event, "x"}, {0.05, 2, event, "x"}, {0.1, 0, event, "x"}, {99999, 3, event, "x"}}
	if err := parquet.WriteFile(path, rows); err != nil {
		t.Fatal(err)
	}
}

// TestIgnoredTrials reads a trial table that keeps ignored trials (NaN choice times).
func TestIgnoredTrials(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, testdata("with-ignored-trials", realSessions[0], "df_trials.parquet"), filepath.Join(dir, realSessions[0], "df_trials.parquet"))
	s := loadOne(t, filepath.Join(dir, realSessions[0]))
	sum := Summarise(s)
	if sum.Trials != 527 || sum.Finished != 508 || sum.Trials-sum.Finished != 19 {
		t.Errorf("summary %+v, want 527 trials of which 508 finished", sum)
	}
	if float64(sum.IgnoreRate) < 0.036 || float64(sum.IgnoreRate) > 0.0361 {
		t.Errorf("ignore rate %v, want 19/527 as in df_sess.csv", sum.IgnoreRate)
	}
	cfg := DefaultSynth()
	traces := Synthesize(s.Trials, []string{"G_0_dff-bright_mc-iso-IRLS"}, cfg, DefaultParams())
	cs, err := AnalyseChannel(s, Channel{Times: traces[0].Times, Data: traces[0].Data}, DefaultParams(), func(f string, a ...any) { t.Logf("warning: "+f, a...) })
	if err != nil {
		t.Fatal(err)
	}
	if cs.All.N != 508 {
		t.Errorf("fit over %d trials, want the 508 finished", cs.All.N)
	}
}
