package foraging

import (
	"math"
	"testing"
)

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) < 1e-9
}

// linear returns samples of x = 2t + 1 at hz over [t0, t1].
func linear(t0, t1, hz float64) Channel {
	var c Channel
	for k := 0; t0+float64(k)/hz <= t1+1e-12; k++ {
		t := t0 + float64(k)/hz
		c.Times = append(c.Times, t)
		c.Data = append(c.Data, 2*t+1)
	}
	return c
}

func TestGrid(t *testing.T) {
	g := NewGrid(-1, 4, 40)
	tau := g.Tau()
	if g.N != 201 || tau[0] != -1 || !near(tau[200], 4) || !near(tau[40], 0) {
		t.Fatalf("grid %+v: first %v last %v", g, tau[0], tau[200])
	}
}

func TestETRLinearSignal(t *testing.T) {
	c := linear(0, 100, 20)
	g := NewGrid(-1, 4, 40)
	rows := ETR(c.Times, c.Data, []float64{50.013}, g)
	for k, tau := range g.Tau() {
		if want := 2*(50.013+tau) + 1; !near(rows[0][k], want) {
			t.Fatalf("ETR at tau %v = %v, want %v (interpolation of a linear signal is exact)", tau, rows[0][k], want)
		}
	}
}

func TestETRCensoringAndEdges(t *testing.T) {
	c := linear(0, 100, 20)
	g := NewGrid(-1, 4, 40)
	tests := []struct {
		name   string
		events []float64
		row    int
		// firstNaN/lastKept: grid indices where values stop (after) or start (before).
		keptFrom, keptTo int
	}{
		{"alone", []float64{50}, 0, 0, 200},
		{"next event 2 s later: kept up to tau = 2 inclusive", []float64{50, 52}, 0, 0, 120},
		{"previous event 0.5 s before: kept from tau = -0.5 inclusive", []float64{49.5, 50}, 1, 20, 200},
		{"NaN neighbour is skipped", []float64{49.5, math.NaN(), 50}, 2, 20, 200},
		{"near the trace end: NaN after the last sample", []float64{98}, 0, 0, 120},
		{"near the trace start: NaN before the first sample", []float64{0.5}, 0, 20, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			row := ETR(c.Times, c.Data, tc.events, g)[tc.row]
			e := tc.events[tc.row]
			for k, tau := range g.Tau() {
				kept := k >= tc.keptFrom && k <= tc.keptTo
				if kept && !near(row[k], 2*(e+tau)+1) {
					t.Errorf("tau %v: %v, want %v", tau, row[k], 2*(e+tau)+1)
				}
				if !kept && !math.IsNaN(row[k]) {
					t.Errorf("tau %v: %v, want NaN (censored)", tau, row[k])
				}
			}
		})
	}
	if row := ETR(c.Times, c.Data, []float64{math.NaN()}, g)[0]; !math.IsNaN(row[0]) || !math.IsNaN(row[200]) {
		t.Errorf("NaN event gave %v", row[:3])
	}
}

func TestZScoreDDOF1(t *testing.T) {
	z, err := ZScore([]float64{1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	sd := math.Sqrt(5.0 / 3) // ddof 1: sum of squares 5 over n-1 = 3
	for i, want := range []float64{-1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd} {
		if !near(z[i], want) {
			t.Errorf("z[%d] = %v, want %v", i, z[i], want)
		}
	}
	for name, x := range map[string][]float64{"constant": {2, 2, 2}, "one sample": {1}, "all NaN": {math.NaN(), math.NaN()}} {
		if _, err := ZScore(x); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestBaselinesAndNormalize(t *testing.T) {
	c := linear(0, 10, 10) // x = 2t + 1
	goCues := []float64{2, 5}
	b := Baselines(c.Times, c.Data, goCues, 1)
	// Open interval (1, 2): samples 1.1..1.9, mean t = 1.5, x = 4.
	if !near(b[0], 4) || !near(b[1], 10) {
		t.Fatalf("baselines %v, want [4 10]", b)
	}
	n := Normalize(c.Times, c.Data, goCues, b, 1)
	for i, tm := range c.Times {
		var want float64
		switch {
		case tm <= 1+1e-9:
			want = math.NaN()
		case tm < 4-1e-9:
			want = 2*tm + 1 - 4
		default:
			want = 2*tm + 1 - 10
		}
		if !near(n[i], want) && !(math.Abs(tm-1) < 1e-9 || math.Abs(tm-4) < 1e-9) {
			t.Errorf("t %v: %v, want %v", tm, n[i], want)
		}
	}
}

func TestRunLengths(t *testing.T) {
	tests := []struct {
		name string
		in   []bool
		want []int
	}{
		{"empty", nil, []int{}},
		{"mixed", []bool{true, true, false, false, false, true}, []int{1, 2, -1, -2, -3, 1}},
		{"all unrewarded", []bool{false, false}, []int{-1, -2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := RunLengths(tc.in)
			if len(got) != len(tc.want) {
				t.Fatalf("%v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("%v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestRPEBins(t *testing.T) {
	tests := []struct {
		rpe  float64
		want int
	}{
		{0, 2}, // RPE 0 lands in (-1/3, 0], just below 0
		{1e-12, 3},
		{-1e-12, 2},
		{1.0 / 3, 3},
		{-1.0 / 3, 1},
		{1, 5},
		{-0.999, 0},
		{-1, -1},
		{1.01, -1},
		{math.NaN(), -1},
	}
	for _, tc := range tests {
		if got := RPEBin(tc.rpe); got != tc.want {
			t.Errorf("RPEBin(%v) = %d, want %d", tc.rpe, got, tc.want)
		}
	}
	if RPEBinLabel(2) != "RPE (-0.33,0.00]" {
		t.Errorf("label %q", RPEBinLabel(2))
	}
}

func TestLeastSquares(t *testing.T) {
	tests := []struct {
		name        string
		x, y        []float64
		slope, icpt float64
		r, se       float64
		n           int
	}{
		{"exact line", []float64{0, 1, 2, 3}, []float64{1, 3, 5, 7}, 2, 1, 1, 0, 4},
		// x mean 2, y mean 5/3; Sxx 2, Sxy 1, Syy 2/3: slope 1/2, r = 1/sqrt(4/3).
		{"three points", []float64{1, 2, 3}, []float64{1, 2, 2}, 0.5, 2.0 / 3, math.Sqrt(3) / 2, math.Sqrt((2.0/3 - 0.5) / 1 / 2), 3},
		{"NaN pairs dropped", []float64{0, math.NaN(), 1, 2}, []float64{0, 5, 1, math.NaN()}, 1, 0, 1, math.NaN(), 2},
		{"one point", []float64{1}, []float64{1}, math.NaN(), math.NaN(), math.NaN(), math.NaN(), 1},
		{"constant x", []float64{1, 1, 1}, []float64{1, 2, 3}, math.NaN(), math.NaN(), math.NaN(), math.NaN(), 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := LeastSquares(tc.x, tc.y)
			if !near(f.Slope, tc.slope) || !near(f.Intercept, tc.icpt) || !near(f.R, tc.r) || !near(f.SE, tc.se) || f.N != tc.n {
				t.Errorf("fit %+v, want slope %v intercept %v r %v se %v n %d", f, tc.slope, tc.icpt, tc.r, tc.se, tc.n)
			}
		})
	}
	neg, pos := SplitFits([]float64{-0.5, -0.25, 0, 0.5, math.NaN()}, []float64{-1, -0.5, 0, 1, 9})
	if neg.N != 2 || !near(neg.Slope, 2) || pos.N != 2 || !near(pos.Slope, 2) {
		t.Errorf("split fits %+v %+v: RPE 0 belongs to the RPE >= 0 fit", neg, pos)
	}
}

func TestAverageSEM(t *testing.T) {
	c := Average([][]float64{{1, math.NaN()}, {3, 4}, {math.NaN(), math.NaN()}}, 2)
	if c.N != 2 || !near(c.Mean[0], 2) || !near(c.SEM[0], math.Sqrt(2)/math.Sqrt(2)) || !near(c.Mean[1], 4) || !math.IsNaN(c.SEM[1]) {
		t.Errorf("curve %+v", c)
	}
	across := AcrossSessions([]Curve{{Mean: []float64{1, 1}, N: 10}, {Mean: []float64{3, 5}, N: 1}}, 2)
	if !near(across.Mean[0], 2) || !near(across.Mean[1], 3) || across.N != 2 {
		t.Errorf("across %+v: each session weighs the same", across)
	}
}

func TestTertiles(t *testing.T) {
	a, b := Tertiles([]float64{0, 1, 2, 3, math.NaN()})
	if !near(a, 1) || !near(b, 2) {
		t.Errorf("tertiles %v %v, want 1 2 (numpy linear)", a, b)
	}
}
