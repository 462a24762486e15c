package foraging

import "math"

// PearsonResult is the mean rolling Pearson r of two channels in one session.
type PearsonResult struct {
	// A and B are the channels, Session the session; MeanR averages NWindows windows.
	A        string `json:"a"`
	B        string `json:"b"`
	Session  string `json:"session"`
	MeanR    Num    `json:"mean_r"`
	NWindows int    `json:"n_windows"`
}

// RollingPearson resamples both traces on a common grid at hz and returns the mean of the
// Pearson r over sliding windows of window seconds, and how many windows had an r.
func RollingPearson(a, b Channel, hz, window float64) (float64, int) {
	if len(a.Times) == 0 || len(b.Times) == 0 {
		return math.NaN(), 0
	}
	start := math.Max(a.Times[0], b.Times[0])
	end := math.Min(a.Times[len(a.Times)-1], b.Times[len(b.Times)-1])
	n := int((end - start) * hz)
	w := int(window * hz)
	if n < w || w < 2 {
		return math.NaN(), 0
	}
	x, y := make([]float64, n), make([]float64, n)
	for k := range x {
		t := start + float64(k)/hz
		x[k], y[k] = Interp(a.Times, a.Data, t), Interp(b.Times, b.Data, t)
	}
	var sum float64
	cnt := 0
	for i := 0; i+w <= n; i++ {
		if r := LeastSquares(x[i:i+w], y[i:i+w]).R; !math.IsNaN(r) {
			sum += r
			cnt++
		}
	}
	if cnt == 0 {
		return math.NaN(), 0
	}
	return sum / float64(cnt), cnt
}
