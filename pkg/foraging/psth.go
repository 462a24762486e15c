package foraging

import "math"

// Curve is a mean response with its standard error at every grid point, and how many
// trials (within a session) or sessions (across sessions) it averages.
type Curve struct {
	// Mean and SEM hold one value per grid point.
	Mean, SEM []float64
	// N is the number of contributing rows (trials or sessions) with at least one value.
	N int
}

// Average returns the mean across rows at each grid point (finite values only) and the
// SEM = sd(ddof 1)/sqrt(n) (NaN where n < 2). Rows that are entirely NaN do not count.
func Average(rows [][]float64, width int) Curve {
	c := Curve{Mean: make([]float64, width), SEM: make([]float64, width)}
	col := make([]float64, 0, len(rows))
	for _, r := range rows {
		for _, v := range r {
			if !math.IsNaN(v) {
				c.N++
				break
			}
		}
	}
	for k := 0; k < width; k++ {
		col = col[:0]
		for _, r := range rows {
			col = append(col, r[k])
		}
		m, sd, n := MeanSD(col)
		c.Mean[k] = m
		c.SEM[k] = sd / math.Sqrt(float64(n))
		if n < 2 {
			c.SEM[k] = math.NaN()
		}
	}
	return c
}

// AcrossSessions averages per-session mean curves, each session weighing the same; the
// SEM is across sessions.
func AcrossSessions(curves []Curve, width int) Curve {
	rows := make([][]float64, 0, len(curves))
	for _, c := range curves {
		if c.N > 0 {
			rows = append(rows, c.Mean)
		}
	}
	return Average(rows, width)
}

// Peak returns the largest finite mean value at tau >= 0; NaN when there is none.
func Peak(c Curve, g Grid) float64 {
	best := math.NaN()
	for k, v := range c.Mean {
		if g.Start+float64(k)/g.Rate < -1e-9 || math.IsNaN(v) {
			continue
		}
		if math.IsNaN(best) || v > best {
			best = v
		}
	}
	return best
}
