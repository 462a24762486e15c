package foraging

import (
	"math"
	"math/rand/v2"
)

// SynthConfig describes synthetic photometry for tests and the demo: per channel, a slow
// drift, AR(1) noise and an RPE-locked response A * RPE_i * k(t - choice_i) with
// k(u) = (u/Tau) e^(1 - u/Tau) for u >= 0.
type SynthConfig struct {
	// Hz is the sample rate; Pre and Post extend the trace before the first and after
	// the last go cue (s).
	Hz, Pre, Post float64
	// Tau is the kernel's time constant (s).
	Tau float64
	// Amplitude maps each channel's df_fip event name to its response amplitude A.
	Amplitude map[string]float64
	// Phi and Sigma are the AR(1) coefficient and innovation sd; Drift is the amplitude
	// of the slow sinusoidal drift (period 600 s).
	Phi, Sigma, Drift float64
	// Seed seeds the random numbers (with the channel's index).
	Seed uint64
}

// DefaultSynth returns the configuration of the shipped synthetic data: G_0 responds
// with A = 1.5, G_1 is a control with A = 0.
func DefaultSynth() SynthConfig {
	return SynthConfig{Hz: 20, Pre: 30, Post: 15, Tau: 0.25, Phi: 0.8, Sigma: 0.25, Drift: 0.3, Seed: 816886,
		Amplitude: map[string]float64{"G_0_dff-bright_mc-iso-IRLS": 1.5, "G_1_dff-bright_mc-iso-IRLS": 0}}
}

// Kernel is the response kernel k(u) = (u/tau) e^(1 - u/tau) for u >= 0, else 0.
func Kernel(u, tau float64) float64 {
	if u < 0 {
		return 0
	}
	return u / tau * math.Exp(1-u/tau)
}

// SynthTrace is one synthetic channel of one session, with the RPE slope the analysis
// should recover from it: A * mean(k over the response-window grid points) / sd(trace).
type SynthTrace struct {
	// Event is the df_fip channel name; Times and Data the samples.
	Event       string
	Times, Data []float64
	// ImpliedSlope is A * KernelMeanWin / TraceSD: the expected slope of A_i on RPE.
	ImpliedSlope float64
	// TraceSD is the sample sd of the trace (the z-score's divisor).
	TraceSD float64
	// KernelMeanWin is the kernel's mean over the response-window grid points.
	KernelMeanWin float64
}

// Synthesize builds the channels of cfg for one session's trials. channels fixes their
// order (and so their seeds). The implied slope uses the default grid and response
// window of p.
func Synthesize(trials []Trial, channels []string, cfg SynthConfig, p Params) []SynthTrace {
	first, last := math.Inf(1), math.Inf(-1)
	for _, t := range trials {
		first, last = math.Min(first, t.GoCue), math.Max(last, t.GoCue)
	}
	start, end := first-cfg.Pre, last+cfg.Post
	n := int((end-start)*cfg.Hz) + 1
	g := NewGrid(p.Window[0], p.Window[1], p.GridHz)
	var kbar float64
	kn := 0
	for _, tau := range g.Tau() {
		if tau >= p.ResponseWindow[0]-1e-9 && tau <= p.ResponseWindow[1]+1e-9 {
			kbar += Kernel(tau, cfg.Tau)
			kn++
		}
	}
	kbar /= float64(kn)
	out := make([]SynthTrace, len(channels))
	for ci, ch := range channels {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(ci)+1))
		phase := rng.Float64() * 2 * math.Pi
		a := cfg.Amplitude[ch]
		tr := SynthTrace{Event: ch, Times: make([]float64, n), Data: make([]float64, n), KernelMeanWin: kbar}
		e := 0.0
		for k := range n {
			t := start + float64(k)/cfg.Hz
			e = cfg.Phi*e + cfg.Sigma*rng.NormFloat64()
			tr.Times[k] = t
			tr.Data[k] = cfg.Drift*math.Sin(2*math.Pi*t/600+phase) + e
		}
		if a != 0 {
			for _, t := range trials {
				if !t.Finished() || math.IsNaN(t.RPE) {
					continue
				}
				k0 := int(math.Ceil((t.ChoiceTime - start) * cfg.Hz))
				for k := max(k0, 0); k < n && tr.Times[k] <= t.ChoiceTime+20*cfg.Tau; k++ {
					tr.Data[k] += a * t.RPE * Kernel(tr.Times[k]-t.ChoiceTime, cfg.Tau)
				}
			}
		}
		for k := range tr.Data {
			tr.Data[k] = float64(float32(math.Round(tr.Data[k]*256) / 256))
			tr.Times[k] = float64(float32(tr.Times[k]))
		}
		_, tr.TraceSD, _ = MeanSD(tr.Data)
		tr.ImpliedSlope = a * kbar / tr.TraceSD
		out[ci] = tr
	}
	return out
}

// FIPRow is one row of a df_fip parquet table as the generator writes it.
type FIPRow struct {
	// Timestamps (s), Data (dF/F), Event (channel name) and SesIdx are the df_fip columns.
	Timestamps float32 `parquet:"timestamps,split,zstd"`
	Data       float32 `parquet:"data,split,zstd"`
	Event      string  `parquet:"event,dict,zstd"`
	SesIdx     string  `parquet:"ses_idx,dict,zstd"`
}

// FIPRows flattens synthetic traces into df_fip rows (long format).
func FIPRows(ses string, traces []SynthTrace) []FIPRow {
	var rows []FIPRow
	for _, tr := range traces {
		for k := range tr.Times {
			rows = append(rows, FIPRow{Timestamps: float32(tr.Times[k]), Data: float32(tr.Data[k]), Event: tr.Event, SesIdx: ses})
		}
	}
	return rows
}
