package foraging

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/wrapper"
)

// Name is the analysis's name (the binary's and the code's).
const Name = "aind-foraging"

// Analysis returns the wrapper description of this analysis, for wrapper.Main.
func Analysis() wrapper.GoAnalysis {
	return wrapper.GoAnalysis{
		Name:            Name,
		Description:     "aind-foraging: per-mouse dynamic foraging + fiber photometry analysis (PSTHs, RPE slopes, baselines), run once per grouped job by the aind wrapper.",
		ParameterSchema: ParameterSchema,
		OutputSchema:    OutputSchema,
		Run:             Run,
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// SessionSummary is the behaviour summary of one session.
type SessionSummary struct {
	// Session is the ses_idx, Date its day (YYYY-MM-DD), Week its week from the first session.
	Session string `json:"session"`
	Date    string `json:"date"`
	Week    int    `json:"week"`
	// Trials counts rows of df_trials; Finished those with a choice; Rewarded the
	// finished ones with earned_reward.
	Trials   int `json:"trials"`
	Finished int `json:"finished"`
	Rewarded int `json:"rewarded"`
	// RewardRate is Rewarded/Finished, IgnoreRate 1 - Finished/Trials, StayRate the
	// fraction of finished trials repeating the previous finished choice.
	RewardRate Num `json:"reward_rate"`
	IgnoreRate Num `json:"ignore_rate"`
	StayRate   Num `json:"stay_rate"`
	// Licks counts lick events in df_events (absent without df_events).
	Licks *int `json:"licks,omitempty"`
}

// Summarise computes a session's behaviour summary. The stay rate is the fraction of
// finished trials (after the first) choosing the side of the previous finished trial.
func Summarise(s *Session) SessionSummary {
	out := SessionSummary{Session: s.ID, Date: s.Date.Format("2006-01-02"), Week: s.Week, Trials: len(s.Trials)}
	prev, stays, pairs := -1.0, 0, 0
	for _, t := range s.Trials {
		if !t.Finished() {
			continue
		}
		out.Finished++
		if t.Rewarded {
			out.Rewarded++
		}
		if prev >= 0 {
			pairs++
			if t.Choice == prev {
				stays++
			}
		}
		prev = t.Choice
	}
	out.RewardRate = Num(float64(out.Rewarded) / float64(out.Finished))
	out.IgnoreRate = Num(1 - float64(out.Finished)/float64(out.Trials))
	out.StayRate = Num(float64(stays) / float64(pairs))
	if s.Licks >= 0 {
		l := s.Licks
		out.Licks = &l
	}
	return out
}

// SessionFits is one session's RPE result on one channel.
type SessionFits struct {
	// Session and Date name the session.
	Session string `json:"session"`
	Date    string `json:"date"`
	// Neg, Pos and All fit A_i against RPE for RPE < 0, RPE >= 0 and every finished trial.
	Neg Fit `json:"rpe_fit_negative"`
	Pos Fit `json:"rpe_fit_positive"`
	All Fit `json:"rpe_fit_all"`
	// RewardedMinusUnrewarded is mean A_i of rewarded minus unrewarded trials.
	RewardedMinusUnrewarded Num `json:"rewarded_minus_unrewarded"`
}

// ConditionStat sums up an across-session PSTH.
type ConditionStat struct {
	// Group (choice, reward, rpe, q_reward) and Condition name the curve.
	Group     string `json:"group"`
	Condition string `json:"condition"`
	// Peak is the largest mean at tau >= 0, WindowMean the mean over the response window,
	// NSessions how many sessions were averaged.
	Peak       Num `json:"peak"`
	WindowMean Num `json:"window_mean"`
	NSessions  int `json:"n_sessions"`
}

// GroupResult is the across-session average of a set of sessions (last N or one week).
type GroupResult struct {
	// Name is last_<N> or week_<W>; Sessions the averaged sessions.
	Name     string   `json:"name"`
	Sessions []string `json:"sessions"`
	// Conditions sum up each condition's across-session PSTH.
	Conditions []ConditionStat `json:"conditions"`
	curves     map[string]Curve
}

// ChannelResult is everything computed for one channel.
type ChannelResult struct {
	// Label is the channel's label from the parameters.
	Label string `json:"label"`
	// Sessions are the per-session RPE fits.
	Sessions []SessionFits `json:"sessions"`
	// SlopeTrendNeg and SlopeTrendPos fit the per-session slopes against days since the
	// first session.
	SlopeTrendNeg Fit `json:"slope_trend_negative_per_day"`
	SlopeTrendPos Fit `json:"slope_trend_positive_per_day"`
	// BaselineByHistory is the trial baseline by previous reward history.
	BaselineByHistory []HistoryRow `json:"baseline_by_history"`
	// LastN averages the last N sessions, Weekly each week's sessions.
	LastN      GroupResult   `json:"last_n"`
	Weekly     []GroupResult `json:"weekly"`
	perSession []*ChannelSession
}

// Result is the analysis of one subject: what outputs.json holds.
type Result struct {
	// SubjectID is the mouse; Sessions the behaviour summary of each kept session.
	SubjectID string           `json:"subject_id"`
	Sessions  []SessionSummary `json:"sessions"`
	// Channels holds the photometry results by base channel name.
	Channels map[string]*ChannelResult `json:"channels"`
	// Pearson holds the optional rolling correlations.
	Pearson []PearsonResult `json:"pearson,omitempty"`
	// Warnings records every problem that left a result usable.
	Warnings []string `json:"warnings"`
	// Files lists the CSV and PNG files written to the output folder.
	Files    []string `json:"files"`
	sessions []*Session
	grid     Grid
}

// Run is the wrapper analysis: it reads the tables of every asset of the job, analyses
// the subject and writes CSV curves and PNG plots to in.OutputDir.
func Run(ctx context.Context, in wrapper.Input) (map[string]any, error) {
	p, err := ParseParams(in.Parameters)
	if err != nil {
		return nil, err
	}
	ctx = in.Log.WithContext(ctx) // the tables' decoding notes go to its debug log
	found, err := FindTables(ctx, in.Store, in.Job)
	if err != nil {
		return nil, err
	}
	res := &Result{Channels: map[string]*ChannelResult{}, Warnings: []string{}, Files: []string{}}
	warn := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		res.Warnings = append(res.Warnings, msg)
		in.Log.Warn().Msg(msg)
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("no df_trials/df_events/df_fip tables (.parquet or .csv) under %s", strings.Join(in.Job.S3Location, ", "))
	}
	var sessions []*Session
	for _, sf := range found {
		s, err := LoadSession(ctx, in.Store, sf, warn)
		if err != nil {
			return nil, err
		}
		sessions = append(sessions, s)
	}
	if err := Analyse(res, sessions, p, subjectOf(in), warn); err != nil {
		return nil, err
	}
	if err := res.WriteFiles(in.OutputDir, p); err != nil {
		return nil, err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

func subjectOf(in wrapper.Input) string {
	if v, ok := in.Job.GroupMetadata["subject__subject_id"]; ok && v != nil {
		return fmt.Sprint(v)
	}
	return ""
}

// Analyse computes the whole Result from loaded sessions. subject may be empty: it is
// then taken from the session ids (<subject>_<date>), which must all agree.
func Analyse(res *Result, sessions []*Session, p Params, subject string, warn func(string, ...any)) error {
	sort.SliceStable(sessions, func(a, b int) bool { return sessions[a].Date.Before(sessions[b].Date) })
	subjects := map[string]bool{}
	var kept []*Session
	for _, s := range sessions {
		subjects[strings.TrimSuffix(s.ID, "_"+s.Date.Format("2006-01-02"))] = true
		if n := len(kept); n > 0 && kept[n-1].Date.Equal(s.Date) {
			prev := kept[n-1]
			if s.Finished() > prev.Finished() {
				kept[n-1] = s
				warn("two sessions on %s: kept %s (%d finished trials), dropped %s", s.Date.Format("2006-01-02"), s.Dir, s.Finished(), prev.Dir)
			} else {
				warn("two sessions on %s: kept %s (%d finished trials), dropped %s", s.Date.Format("2006-01-02"), prev.Dir, prev.Finished(), s.Dir)
			}
			continue
		}
		kept = append(kept, s)
	}
	if subject == "" {
		if len(subjects) != 1 {
			var ids []string
			for id := range subjects {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			return fmt.Errorf("the job holds sessions of %d subjects (%s): group the job by subject.subject_id", len(ids), strings.Join(ids, ", "))
		}
		for id := range subjects {
			subject = id
		}
	}
	res.SubjectID = subject
	res.sessions = kept
	res.grid = NewGrid(p.Window[0], p.Window[1], p.GridHz)
	first := kept[0].Date
	for _, s := range kept {
		s.Week = int(s.Date.Sub(first).Hours()/24)/7 + 1
		res.Sessions = append(res.Sessions, Summarise(s))
	}
	traces := map[string]map[string]Channel{} // session -> channel -> trace
	for _, c := range p.ChannelNames() {
		cr := &ChannelResult{Label: p.Channels[c], Sessions: []SessionFits{}}
		for _, s := range kept {
			if s.FIP == nil {
				continue
			}
			tr, ok, err := ChannelTrace(s.FIP, p.TraceName(c))
			if err != nil {
				return err
			}
			if !ok {
				warn("session %s: channel %s (event %q) absent from %s", s.ID, c, p.TraceName(c), s.FIP.Name)
				continue
			}
			if traces[s.ID] == nil {
				traces[s.ID] = map[string]Channel{}
			}
			traces[s.ID][c] = tr
			cs, err := AnalyseChannel(s, tr, p, func(f string, a ...any) { warn("channel %s: "+f, append([]any{c}, a...)...) })
			if err != nil {
				return fmt.Errorf("%s: channel %s: %w", s.FIP.Name, p.TraceName(c), err)
			}
			cr.perSession = append(cr.perSession, cs)
			cr.Sessions = append(cr.Sessions, SessionFits{Session: s.ID, Date: s.Date.Format("2006-01-02"), Neg: cs.Neg, Pos: cs.Pos, All: cs.All, RewardedMinusUnrewarded: Num(cs.RewardedMinusUnrewarded)})
		}
		if len(cr.perSession) == 0 {
			return fmt.Errorf("channel %s (df_fip event %q) is in no session's df_fip", c, p.TraceName(c))
		}
		var days, neg, pos []float64
		for _, cs := range cr.perSession {
			days = append(days, cs.Session.Date.Sub(first).Hours()/24)
			neg = append(neg, cs.Neg.Slope)
			pos = append(pos, cs.Pos.Slope)
		}
		cr.SlopeTrendNeg, cr.SlopeTrendPos = LeastSquares(days, neg), LeastSquares(days, pos)
		if cr.SlopeTrendPos.N < 2 {
			warn("channel %s: fewer than 2 sessions with RPE fits: the slope trend is null", c)
		}
		cr.BaselineByHistory = BaselineByHistory(cr.perSession)
		start := len(cr.perSession) - p.LastN
		if start < 0 {
			start = 0
		}
		cr.LastN = groupAverage(fmt.Sprintf("last_%d", p.LastN), cr.perSession[start:], res.grid, p)
		weeks := map[int][]*ChannelSession{}
		for _, cs := range cr.perSession {
			weeks[cs.Session.Week] = append(weeks[cs.Session.Week], cs)
		}
		var wk []int
		for w := range weeks {
			wk = append(wk, w)
		}
		sort.Ints(wk)
		for _, w := range wk {
			cr.Weekly = append(cr.Weekly, groupAverage(fmt.Sprintf("week_%d", w), weeks[w], res.grid, p))
		}
		res.Channels[c] = cr
	}
	for _, pp := range p.PearsonPairs {
		first, second, _ := strings.Cut(pp, "-")
		pair := [2]string{first, second}
		for _, s := range kept {
			a, okA := traces[s.ID][first]
			b, okB := traces[s.ID][second]
			if !okA || !okB {
				warn("session %s: pearson %s-%s: a channel is missing", s.ID, pair[0], pair[1])
				continue
			}
			r, n := RollingPearson(a, b, 20, 1)
			if n == 0 {
				warn("session %s: pearson %s-%s: no overlapping window", s.ID, pair[0], pair[1])
			}
			res.Pearson = append(res.Pearson, PearsonResult{A: pair[0], B: pair[1], Session: s.ID, MeanR: Num(r), NWindows: n})
		}
	}
	return nil
}

func groupAverage(name string, css []*ChannelSession, g Grid, p Params) GroupResult {
	gr := GroupResult{Name: name, curves: map[string]Curve{}, Conditions: []ConditionStat{}}
	for _, cs := range css {
		gr.Sessions = append(gr.Sessions, cs.Session.ID)
	}
	for _, cg := range conditionGroups {
		for _, label := range cg.Labels {
			var curves []Curve
			for _, cs := range css {
				if c, ok := cs.Curves[label]; ok {
					curves = append(curves, c)
				}
			}
			if len(curves) == 0 {
				continue
			}
			c := AcrossSessions(curves, g.N)
			gr.curves[label] = c
			gr.Conditions = append(gr.Conditions, ConditionStat{Group: cg.Group, Condition: label, Peak: Num(Peak(c, g)),
				WindowMean: Num(WindowMean(c.Mean, g, p.ResponseWindow[0], p.ResponseWindow[1])), NSessions: c.N})
		}
	}
	return gr
}

// WriteFiles writes the CSV curves and the plots to dir and lists them in res.Files.
func (res *Result) WriteFiles(dir string, p Params) error {
	for _, c := range p.ChannelNames() {
		cr := res.Channels[c]
		name := "curves_" + c + ".csv"
		if err := writeCurves(filepath.Join(dir, name), cr, res.grid); err != nil {
			return err
		}
		res.Files = append(res.Files, name)
		plots, err := Plot(dir, c, cr, res.grid, p)
		if err != nil {
			return fmt.Errorf("plotting channel %s: %w", c, err)
		}
		res.Files = append(res.Files, plots...)
	}
	return nil
}

func writeCurves(path string, cr *ChannelResult, g Grid) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"scope", "group", "condition", "time", "mean", "sem", "n"})
	f := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
	emit := func(scope string, curves map[string]Curve) {
		for _, cg := range conditionGroups {
			for _, label := range cg.Labels {
				c, ok := curves[label]
				if !ok {
					continue
				}
				for k, t := range g.Tau() {
					_ = w.Write([]string{scope, cg.Group, label, strconv.FormatFloat(t, 'f', 3, 64), f(c.Mean[k]), f(c.SEM[k]), strconv.Itoa(c.N)})
				}
			}
		}
	}
	for _, cs := range cr.perSession {
		emit(cs.Session.ID, cs.Curves)
	}
	emit(cr.LastN.Name, cr.LastN.curves)
	for _, wk := range cr.Weekly {
		emit(wk.Name, wk.curves)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing curves: %w", err)
	}
	return nil
}
