package foraging

import "math"

// Grid is the fixed time grid of event-triggered responses: Start + k/Rate seconds for
// k = 0..N-1 around the alignment event.
type Grid struct {
	// Start is the first point (s), Rate the points per second, N the number of points.
	Start, Rate float64
	N           int
}

// NewGrid returns the grid covering [start, end] at rate points per second, both ends
// included (for [-1, 4] s at 40 Hz: 201 points).
func NewGrid(start, end, rate float64) Grid {
	return Grid{Start: start, Rate: rate, N: int(math.Floor((end-start)*rate+1e-9)) + 1}
}

// Tau returns the grid's time points.
func (g Grid) Tau() []float64 {
	t := make([]float64, g.N)
	for k := range t {
		t[k] = g.Start + float64(k)/g.Rate
	}
	return t
}

// Interp returns x linearly interpolated at time t from the sorted sample times; NaN
// outside [times[0], times[last]] or when a neighbouring sample is NaN.
func Interp(times, x []float64, t float64) float64 {
	n := len(times)
	if n == 0 || t < times[0] || t > times[n-1] || math.IsNaN(t) {
		return math.NaN()
	}
	i := searchFrom(times, t)
	if times[i] == t {
		return x[i]
	}
	t0, t1 := times[i-1], times[i]
	w := (t - t0) / (t1 - t0)
	return x[i-1]*(1-w) + x[i]*w
}

// ETR returns the event-triggered responses of x: one row per alignment event, one value
// per grid point, interpolated at event + tau. Censoring: grid points before the previous
// event or after the next one (in the order given; NaN events are skipped as neighbours)
// are NaN, and so is every row of a NaN event.
func ETR(times, x, events []float64, g Grid) [][]float64 {
	tau := g.Tau()
	rows := make([][]float64, len(events))
	for i, e := range events {
		row := make([]float64, g.N)
		prev, next := math.Inf(-1), math.Inf(1)
		for j := i - 1; j >= 0; j-- {
			if !math.IsNaN(events[j]) {
				prev = events[j]
				break
			}
		}
		for j := i + 1; j < len(events); j++ {
			if !math.IsNaN(events[j]) {
				next = events[j]
				break
			}
		}
		for k, tk := range tau {
			t := e + tk
			if math.IsNaN(e) || t < prev || t > next {
				row[k] = math.NaN()
				continue
			}
			row[k] = Interp(times, x, t)
		}
		rows[i] = row
	}
	return rows
}

// WindowMean returns the mean of the finite values of row at grid points with
// a <= tau <= b (with a 1e-9 tolerance); NaN when there is none.
func WindowMean(row []float64, g Grid, a, b float64) float64 {
	var sum float64
	n := 0
	for k, v := range row {
		t := g.Start + float64(k)/g.Rate
		if t < a-1e-9 || t > b+1e-9 || math.IsNaN(v) {
			continue
		}
		sum += v
		n++
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}
