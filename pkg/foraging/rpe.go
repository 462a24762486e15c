package foraging

import (
	"fmt"
	"math"
	"sort"
)

// RPEEdges are the RPE bin edges -1 + i/3, i = 0..6; bins are (a, b].
var RPEEdges = []float64{-1, -2.0 / 3, -1.0 / 3, 0, 1.0 / 3, 2.0 / 3, 1}

// RPEBin returns the index of the bin (RPEEdges[i], RPEEdges[i+1]] holding rpe, or -1
// outside (-1, 1] or for NaN. RPE = 0 falls in the bin just below 0.
func RPEBin(rpe float64) int {
	for i := 0; i+1 < len(RPEEdges); i++ {
		if rpe > RPEEdges[i] && rpe <= RPEEdges[i+1] {
			return i
		}
	}
	return -1
}

// RPEBinLabel names bin i by its edges, e.g. "(-0.33,0.00]".
func RPEBinLabel(i int) string {
	return fmt.Sprintf("RPE (%.2f,%.2f]", RPEEdges[i], RPEEdges[i+1])
}

// RunLengths returns the signed run length of each trial: +n when the trial is the n-th
// rewarded trial in a row, -n when it is the n-th unrewarded one in a row.
func RunLengths(rewarded []bool) []int {
	out := make([]int, len(rewarded))
	for i, r := range rewarded {
		s := -1
		if r {
			s = 1
		}
		if i > 0 && (out[i-1] > 0) == r {
			out[i] = out[i-1] + s
		} else {
			out[i] = s
		}
	}
	return out
}

// Fit is a least-squares line y = Intercept + Slope*x with Pearson's R over N points;
// Slope, Intercept and R are NaN when N < 2 (R also when x or y is constant). SE is the
// slope's standard error, sqrt(SSres/(N-2)/Sxx), NaN when N < 3.
type Fit struct {
	Slope     float64
	Intercept float64
	R         float64
	SE        float64
	N         int
}

// LeastSquares fits y against x over the pairs where both are finite.
func LeastSquares(x, y []float64) Fit {
	var xs, ys []float64
	for i := range x {
		if !math.IsNaN(x[i]) && !math.IsNaN(y[i]) && !math.IsInf(x[i], 0) && !math.IsInf(y[i], 0) {
			xs = append(xs, x[i])
			ys = append(ys, y[i])
		}
	}
	f := Fit{Slope: math.NaN(), Intercept: math.NaN(), R: math.NaN(), SE: math.NaN(), N: len(xs)}
	if f.N < 2 {
		return f
	}
	mx, _, _ := MeanSD(xs)
	my, _, _ := MeanSD(ys)
	var sxx, syy, sxy float64
	for i := range xs {
		dx, dy := xs[i]-mx, ys[i]-my
		sxx += dx * dx
		syy += dy * dy
		sxy += dx * dy
	}
	if sxx == 0 {
		return f
	}
	f.Slope = sxy / sxx
	f.Intercept = my - f.Slope*mx
	if syy > 0 {
		f.R = sxy / math.Sqrt(sxx*syy)
	}
	if f.N > 2 {
		f.SE = math.Sqrt(math.Max(syy-f.Slope*sxy, 0) / float64(f.N-2) / sxx)
	}
	return f
}

// SplitFits fits a against rpe separately for rpe < 0 and rpe >= 0.
func SplitFits(rpe, a []float64) (neg, pos Fit) {
	var xn, yn, xp, yp []float64
	for i, r := range rpe {
		switch {
		case math.IsNaN(r):
		case r < 0:
			xn, yn = append(xn, r), append(yn, a[i])
		default:
			xp, yp = append(xp, r), append(yp, a[i])
		}
	}
	return LeastSquares(xn, yn), LeastSquares(xp, yp)
}

// Tertiles returns the 1/3 and 2/3 quantiles (linear interpolation, as numpy's default)
// of the finite values of x.
func Tertiles(x []float64) (float64, float64) {
	var v []float64
	for _, e := range x {
		if !math.IsNaN(e) {
			v = append(v, e)
		}
	}
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	sort.Float64s(v)
	q := func(p float64) float64 {
		h := p * float64(len(v)-1)
		lo := int(math.Floor(h))
		if lo+1 >= len(v) {
			return v[len(v)-1]
		}
		return v[lo] + (h-float64(lo))*(v[lo+1]-v[lo])
	}
	return q(1.0 / 3), q(2.0 / 3)
}
