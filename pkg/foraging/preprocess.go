package foraging

import (
	"errors"
	"math"
)

// MeanSD returns the mean and the sample standard deviation (ddof 1) of the finite values
// of x, and how many there were. sd is NaN when n < 2.
func MeanSD(x []float64) (mean, sd float64, n int) {
	var sum float64
	for _, v := range x {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			sum += v
			n++
		}
	}
	if n == 0 {
		return math.NaN(), math.NaN(), 0
	}
	mean = sum / float64(n)
	if n < 2 {
		return mean, math.NaN(), n
	}
	var ss float64
	for _, v := range x {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			ss += (v - mean) * (v - mean)
		}
	}
	return mean, math.Sqrt(ss / float64(n-1)), n
}

// ZScore returns (x - mean) / sd over the whole trace, sd with ddof 1. NaN samples stay
// NaN. It fails when fewer than two samples are finite or the trace is constant.
func ZScore(x []float64) ([]float64, error) {
	m, sd, n := MeanSD(x)
	if n < 2 {
		return nil, errors.New("z-score: fewer than two finite samples")
	}
	if sd == 0 {
		return nil, errors.New("z-score: constant trace (sd 0)")
	}
	z := make([]float64, len(x))
	for i, v := range x {
		z[i] = (v - m) / sd
	}
	return z, nil
}

// Baselines returns, for every go cue g_i, the mean of the samples of x with times in the
// open interval (g_i - pre, g_i); NaN when there is none. times must be sorted.
func Baselines(times, x, goCues []float64, pre float64) []float64 {
	out := make([]float64, len(goCues))
	for i, g := range goCues {
		lo, hi := openRange(times, g-pre, g)
		m, _, n := MeanSD(x[lo:hi])
		if n == 0 {
			m = math.NaN()
		}
		out[i] = m
	}
	return out
}

// openRange returns the index range [lo, hi) of the sorted times strictly inside (a, b).
func openRange(times []float64, a, b float64) (int, int) {
	lo := searchAfter(times, a)
	hi := searchFrom(times, b)
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// searchFrom returns the first index with times[i] >= v.
func searchFrom(times []float64, v float64) int {
	lo, hi := 0, len(times)
	for lo < hi {
		m := (lo + hi) / 2
		if times[m] < v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// searchAfter returns the first index with times[i] > v.
func searchAfter(times []float64, v float64) int {
	lo, hi := 0, len(times)
	for lo < hi {
		m := (lo + hi) / 2
		if times[m] <= v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// Normalize subtracts trial baselines: inside trial window i, (g_i - pre, g_{i+1} - pre)
// (the last window runs to the end of the trace), the result is x - baselines[i]; outside
// every window it is NaN. goCues must be sorted.
func Normalize(times, x, goCues, baselines []float64, pre float64) []float64 {
	out := make([]float64, len(x))
	for i := range out {
		out[i] = math.NaN()
	}
	for i, g := range goCues {
		end := math.Inf(1)
		if i+1 < len(goCues) {
			end = goCues[i+1] - pre
		}
		lo, hi := openRange(times, g-pre, end)
		for k := lo; k < hi; k++ {
			out[k] = x[k] - baselines[i]
		}
	}
	return out
}
