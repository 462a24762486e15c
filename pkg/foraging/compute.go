package foraging

import (
	"fmt"
	"math"
	"sort"
)

// Condition groups, in plot order, with their condition labels.
var conditionGroups = []struct {
	Group  string
	Labels []string
}{
	{"choice", []string{"left", "right", "ignore"}},
	{"reward", []string{"rewarded", "unrewarded"}},
	{"rpe", rpeLabels()},
	{"q_reward", []string{"Q low rewarded", "Q low unrewarded", "Q mid rewarded", "Q mid unrewarded", "Q high rewarded", "Q high unrewarded"}},
}

func rpeLabels() []string {
	var l []string
	for i := 0; i+1 < len(RPEEdges); i++ {
		l = append(l, RPEBinLabel(i))
	}
	return l
}

// ChannelSession is the analysis of one channel in one session.
type ChannelSession struct {
	// Session is the analysed session.
	Session *Session
	// Baselines are the trial baselines of data_z, one per trial.
	Baselines []float64
	// ETR holds one row per trial (data_z_norm aligned to choice).
	ETR [][]float64
	// A is the RPE response of each trial (NaN for ignored trials).
	A []float64
	// Neg and Pos are the fits of A against RPE for RPE < 0 and RPE >= 0; All fits every
	// finished trial.
	Neg, Pos, All Fit
	// Curves are the within-session PSTHs per condition label.
	Curves map[string]Curve
	// RewardedMinusUnrewarded is mean A of rewarded minus unrewarded finished trials.
	RewardedMinusUnrewarded float64
}

// conditionsOf returns, per condition label, the trial indices it holds.
func conditionsOf(trials []Trial) map[string][]int {
	c := map[string][]int{}
	var q []float64
	for _, t := range trials {
		if t.Finished() {
			q = append(q, t.QChosen)
		}
	}
	q1, q2 := Tertiles(q)
	for i, t := range trials {
		if !t.Finished() {
			c["ignore"] = append(c["ignore"], i)
			continue
		}
		side := "left"
		if t.Choice == 1 {
			side = "right"
		}
		c[side] = append(c[side], i)
		rw := "unrewarded"
		if t.Rewarded {
			rw = "rewarded"
		}
		c[rw] = append(c[rw], i)
		if b := RPEBin(t.RPE); b >= 0 {
			c[RPEBinLabel(b)] = append(c[RPEBinLabel(b)], i)
		}
		third := "Q high"
		switch {
		case t.QChosen <= q1:
			third = "Q low"
		case t.QChosen <= q2:
			third = "Q mid"
		}
		if !math.IsNaN(t.QChosen) {
			c[third+" "+rw] = append(c[third+" "+rw], i)
		}
	}
	return c
}

// AnalyseChannel preprocesses one channel of one session and computes its ETRs, RPE
// responses and fits, and per-condition PSTHs. Problems that leave a result usable are
// reported through warn; an unusable trace is an error.
func AnalyseChannel(s *Session, ch Channel, p Params, warn func(string, ...any)) (*ChannelSession, error) {
	z, err := ZScore(ch.Data)
	if err != nil {
		return nil, err
	}
	g := NewGrid(p.Window[0], p.Window[1], p.GridHz)
	goCues := make([]float64, len(s.Trials))
	choices := make([]float64, len(s.Trials))
	for i, t := range s.Trials {
		goCues[i] = t.GoCue
		choices[i] = math.NaN()
		if t.Finished() {
			choices[i] = t.ChoiceTime
		}
	}
	cs := &ChannelSession{Session: s, Curves: map[string]Curve{}}
	cs.Baselines = Baselines(ch.Times, z, goCues, p.BaselineS)
	norm := Normalize(ch.Times, z, goCues, cs.Baselines, p.BaselineS)
	cs.ETR = ETR(ch.Times, norm, choices, g)
	cs.A = make([]float64, len(s.Trials))
	rpe := make([]float64, len(s.Trials))
	allNaN := 0
	var aRew, aUnrew []float64
	for i, t := range s.Trials {
		cs.A[i] = WindowMean(cs.ETR[i], g, p.ResponseWindow[0], p.ResponseWindow[1])
		rpe[i] = math.NaN()
		if !t.Finished() {
			continue
		}
		rpe[i] = t.RPE
		if math.IsNaN(cs.A[i]) {
			allNaN++
			continue
		}
		if t.Rewarded {
			aRew = append(aRew, cs.A[i])
		} else {
			aUnrew = append(aUnrew, cs.A[i])
		}
	}
	if allNaN > 0 {
		warn("session %s: %d finished trials have no samples in the response window (all NaN): left out of the RPE fits", s.ID, allNaN)
	}
	cs.Neg, cs.Pos = SplitFits(rpe, cs.A)
	cs.All = LeastSquares(rpe, cs.A)
	if cs.Neg.N < 2 || cs.Pos.N < 2 {
		warn("session %s: fewer than 2 trials on one side of RPE 0 (n- %d, n+ %d): that fit is null", s.ID, cs.Neg.N, cs.Pos.N)
	}
	mr, _, nr := MeanSD(aRew)
	mu, _, nu := MeanSD(aUnrew)
	cs.RewardedMinusUnrewarded = mr - mu
	if nr == 0 || nu == 0 {
		warn("session %s: no rewarded or no unrewarded trial with a response: rewarded-minus-unrewarded is null", s.ID)
	}
	for label, idx := range conditionsOf(s.Trials) {
		rows := make([][]float64, len(idx))
		for k, i := range idx {
			rows[k] = cs.ETR[i]
		}
		c := Average(rows, g.N)
		if c.N == 0 {
			if label != "ignore" {
				warn("session %s: condition %q has no trial with samples: curve left out", s.ID, label)
			}
			continue
		}
		cs.Curves[label] = c
	}
	return cs, nil
}

// HistoryRow is the baseline by previous-trial reward history h, per session and across.
type HistoryRow struct {
	// H is the previous trial's num_reward_past.
	H int `json:"h"`
	// PerSession holds each session's mean +- SE; Mean and SEM are across sessions.
	PerSession []HistoryCell `json:"per_session"`
	Mean       Num           `json:"mean"`
	SEM        Num           `json:"sem"`
	NSessions  int           `json:"n_sessions"`
}

// HistoryCell is the mean +- SE of baselines of one session at one h.
type HistoryCell struct {
	// Session names the session; Mean, SE and N describe its baselines at this h.
	Session string `json:"session"`
	Mean    Num    `json:"mean"`
	SE      Num    `json:"se"`
	N       int    `json:"n"`
}

// BaselineByHistory groups each finished trial's baseline by the previous trial's
// num_reward_past h, -7 < h < 7.
func BaselineByHistory(css []*ChannelSession) []HistoryRow {
	rows := map[int]*HistoryRow{}
	for _, cs := range css {
		groups := map[int][]float64{}
		tr := cs.Session.Trials
		for i := 1; i < len(tr); i++ {
			h := tr[i-1].NumRewardPast
			if !tr[i].Finished() || math.IsNaN(h) || h <= -7 || h >= 7 || math.IsNaN(cs.Baselines[i]) {
				continue
			}
			groups[int(h)] = append(groups[int(h)], cs.Baselines[i])
		}
		for h, v := range groups {
			m, sd, n := MeanSD(v)
			if rows[h] == nil {
				rows[h] = &HistoryRow{H: h}
			}
			rows[h].PerSession = append(rows[h].PerSession, HistoryCell{Session: cs.Session.ID, Mean: Num(m), SE: Num(sd / math.Sqrt(float64(n))), N: n})
		}
	}
	out := make([]HistoryRow, 0, len(rows))
	for _, r := range rows {
		var means []float64
		for _, c := range r.PerSession {
			means = append(means, float64(c.Mean))
		}
		m, sd, n := MeanSD(means)
		r.Mean, r.SEM, r.NSessions = Num(m), Num(sd/math.Sqrt(float64(n))), n
		out = append(out, *r)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].H < out[b].H })
	return out
}

// Num is a float that marshals NaN and infinities as JSON null.
type Num float64

// MarshalJSON writes null for NaN or infinite values.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return []byte(fmt.Sprintf("%.6g", f)), nil
}

// MarshalJSON writes the fit with NaN values as null.
func (f Fit) MarshalJSON() ([]byte, error) {
	type fit struct {
		Slope     Num `json:"slope"`
		Intercept Num `json:"intercept"`
		R         Num `json:"r"`
		SE        Num `json:"slope_se"`
		N         int `json:"n"`
	}
	return jsonMarshal(fit{Num(f.Slope), Num(f.Intercept), Num(f.R), Num(f.SE), f.N})
}
