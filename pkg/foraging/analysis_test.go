package foraging

import (
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/wrapper"
	"github.com/rs/zerolog"
)

// TestRecoversRPESlope runs the analysis on synthetic photometry built from the real
// trial times: G_0 (A > 0) must show the slope implied by the generator, G_1 (A = 0) none.
func TestRecoversRPESlope(t *testing.T) {
	assets, implied := syntheticAsset(t, t.TempDir())
	out := t.TempDir()
	in := wrapper.Input{
		Job:       job.Job{S3Location: assets, GroupMetadata: map[string]any{"subject__subject_id": "816886"}},
		OutputDir: out, Store: storage.NewLocal(), Log: zerolog.Nop(),
		Parameters: map[string]any{"pearson_pairs": []any{"G_0-G_1"}},
	}
	got, err := Run(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(got, "", " ")
	var res struct {
		SubjectID string `json:"subject_id"`
		Sessions  []struct {
			Session  string `json:"session"`
			Finished int    `json:"finished"`
		} `json:"sessions"`
		Channels map[string]struct {
			Sessions []struct {
				Session string  `json:"session"`
				Neg     testFit `json:"rpe_fit_negative"`
				Pos     testFit `json:"rpe_fit_positive"`
				All     testFit `json:"rpe_fit_all"`
			} `json:"sessions"`
		} `json:"channels"`
		Pearson []struct {
			MeanR float64 `json:"mean_r"`
		} `json:"pearson"`
		Warnings []string `json:"warnings"`
		Files    []string `json:"files"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.SubjectID != "816886" || len(res.Sessions) != 2 || res.Sessions[0].Finished != 508 {
		t.Errorf("subject %q sessions %+v", res.SubjectID, res.Sessions)
	}
	// The RPE of a side is identifiable when its spread is wide enough (session
	// 2026-01-07 has RPE < 0 within 0.01 of 0: its split slope is noise, with a large SE).
	spread := map[string]map[string]float64{}
	for _, ses := range realSessions {
		s := loadOne(t, testdata("816886", ses))
		var neg, pos, all []float64
		for _, tr := range s.Trials {
			if tr.Finished() {
				all = append(all, tr.RPE)
				if tr.RPE < 0 {
					neg = append(neg, tr.RPE)
				} else {
					pos = append(pos, tr.RPE)
				}
			}
		}
		_, sn, _ := MeanSD(neg)
		_, sp, _ := MeanSD(pos)
		_, sa, _ := MeanSD(all)
		spread[ses] = map[string]float64{"RPE<0": sn, "RPE>=0": sp, "all": sa}
	}
	for _, ch := range []string{"G_0", "G_1"} {
		sessions := res.Channels[ch].Sessions
		if len(sessions) != 2 {
			t.Fatalf("%s: %d sessions", ch, len(sessions))
		}
		for _, s := range sessions {
			want := implied[s.Session]["G_0"]
			for _, f := range []struct {
				side string
				fit  testFit
			}{{"RPE<0", s.Neg}, {"RPE>=0", s.Pos}, {"all", s.All}} {
				sd := spread[s.Session][f.side]
				t.Logf("%s %s %-6s slope %7.3f +- %.3f (n %d, RPE sd %.3f); implied on G_0 %.3f", ch, s.Session, f.side, f.fit.Slope, f.fit.SE, f.fit.N, sd, want)
				target := 0.0
				if ch == "G_0" {
					target = want
				}
				if math.Abs(f.fit.Slope-target) > 4*f.fit.SE {
					t.Errorf("%s %s %s slope %.3f is more than 4 SE (%.3f) from %.3f", ch, s.Session, f.side, f.fit.Slope, f.fit.SE, target)
				}
				if sd >= 0.2 && math.Abs(f.fit.Slope-target) > 0.2*want {
					t.Errorf("%s %s %s slope %.3f, want %.3f +- %.3f (20%% of implied)", ch, s.Session, f.side, f.fit.Slope, target, 0.2*want)
				}
			}
		}
	}
	if len(res.Pearson) != 2 || math.Abs(res.Pearson[0].MeanR) > 0.2 {
		t.Errorf("pearson G_0-G_1 = %+v, want 2 sessions with |r| small", res.Pearson)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings: %q", res.Warnings)
	}
	// Plots: valid PNGs, PanelWidth x PanelHeight per panel.
	panels := map[string][2]int{ // rows, cols
		"session_psth_G_0.png": {2, 4}, "rpe_scatter_G_0.png": {1, 2}, "last_n_G_0.png": {1, 4}, "weekly_G_0.png": {1, 4},
		"session_psth_G_1.png": {2, 4}, "rpe_scatter_G_1.png": {1, 2}, "last_n_G_1.png": {1, 4}, "weekly_G_1.png": {1, 4},
	}
	for name, rc := range panels {
		f, err := os.Open(filepath.Join(out, name))
		if err != nil {
			t.Error(err)
			continue
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w != rc[1]*PanelWidth || h != rc[0]*PanelHeight {
			t.Errorf("%s is %dx%d, want %dx%d", name, w, h, rc[1]*PanelWidth, rc[0]*PanelHeight)
		}
	}
	for _, name := range []string{"curves_G_0.csv", "curves_G_1.csv"} {
		if st, err := os.Stat(filepath.Join(out, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	if len(res.Files) != 10 {
		t.Errorf("files = %q, want 10", res.Files)
	}
}

type testFit struct {
	Slope float64 `json:"slope"`
	SE    float64 `json:"slope_se"`
	N     int     `json:"n"`
}
