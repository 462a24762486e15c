package foraging

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Panel size of every plot, in pixels, and the resolution of the PNG files.
const (
	PanelWidth  = 480
	PanelHeight = 360
	plotDPI     = 96
)

// Plot draws the plots of p.Plots for one channel into dir and returns their file names:
// session_psth_<c>.png (one row per session, one column per condition group),
// rpe_scatter_<c>.png (one panel per session: A_i against RPE with both fits),
// last_n_<c>.png (one row, one column per condition group) and weekly_<c>.png (one row
// per week).
func Plot(dir, c string, cr *ChannelResult, g Grid, p Params) ([]string, error) {
	var files []string
	save := func(name string, grid [][]*plot.Plot) error {
		if err := savePNG(filepath.Join(dir, name), grid); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		files = append(files, name)
		return nil
	}
	title := channelTitle(c, cr.Label)
	if p.has(PlotSessionPSTH) {
		var grid [][]*plot.Plot
		for _, cs := range cr.perSession {
			grid = append(grid, psthRow(fmt.Sprintf("%s %s", title, cs.Session.ID), cs.Curves, g))
		}
		if err := save("session_psth_"+c+".png", grid); err != nil {
			return nil, err
		}
	}
	if p.has(PlotRPEScatter) {
		var row []*plot.Plot
		for _, cs := range cr.perSession {
			row = append(row, rpeScatter(fmt.Sprintf("%s %s", title, cs.Session.ID), cs))
		}
		if err := save("rpe_scatter_"+c+".png", [][]*plot.Plot{row}); err != nil {
			return nil, err
		}
	}
	if p.has(PlotLastN) {
		row := psthRow(fmt.Sprintf("%s %s (%d sessions)", title, cr.LastN.Name, len(cr.LastN.Sessions)), cr.LastN.curves, g)
		if err := save("last_n_"+c+".png", [][]*plot.Plot{row}); err != nil {
			return nil, err
		}
	}
	if p.has(PlotWeekly) {
		var grid [][]*plot.Plot
		for _, wk := range cr.Weekly {
			grid = append(grid, psthRow(fmt.Sprintf("%s %s (%d sessions)", title, wk.Name, len(wk.Sessions)), wk.curves, g))
		}
		if err := save("weekly_"+c+".png", grid); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// channelTitle names a channel in plot titles: "G_0: NAc DA (synthetic)". The label is
// not wrapped in parentheses: labels often hold their own.
func channelTitle(c, label string) string {
	if label == "" || label == c {
		return c
	}
	return c + ": " + label
}

// categorical is the Okabe-Ito palette (black last): distinct hues, legible on white and
// for colour-blind readers; plotutil's default palette repeats red within 6 colours.
var categorical = []color.NRGBA{
	{0x00, 0x72, 0xB2, 0xff}, // blue
	{0xD5, 0x5E, 0x00, 0xff}, // vermillion
	{0x00, 0x9E, 0x73, 0xff}, // bluish green
	{0xCC, 0x79, 0xA7, 0xff}, // reddish purple
	{0xE6, 0x9F, 0x00, 0xff}, // orange
	{0x56, 0xB4, 0xE9, 0xff}, // sky blue
	{0x00, 0x00, 0x00, 0xff}, // black
}

// diverging runs from dark blue (most negative) to dark red (most positive): the RPE bins
// are ordered, so their colours are too (ColorBrewer RdBu without its near-white middle).
var diverging = []color.NRGBA{
	{0x21, 0x66, 0xAC, 0xff},
	{0x43, 0x93, 0xC3, 0xff},
	{0x92, 0xC5, 0xDE, 0xff},
	{0xF4, 0xA5, 0x82, 0xff},
	{0xD6, 0x60, 0x4D, 0xff},
	{0xB2, 0x18, 0x2B, 0xff},
}

// qLevels colour the Q groups low, mid, high from cool to warm; the unrewarded curve of a
// level is a lighter tint of its colour, dashed (see curveDashed).
var qLevels = []color.NRGBA{
	{0x00, 0x72, 0xB2, 0xff}, // blue
	{0x00, 0x9E, 0x73, 0xff}, // bluish green
	{0xD5, 0x5E, 0x00, 0xff}, // vermillion
}

// curveColor is the colour of label i of n in a condition group: the RPE bins take the
// diverging map in order (stretched over n bins), the Q groups one colour per Q level
// (rewarded, then unrewarded in a lighter tint), every other group a categorical colour.
func curveColor(group string, i, n int) color.Color {
	switch group {
	case "rpe":
		if n <= 1 {
			return diverging[len(diverging)-1]
		}
		return diverging[i*(len(diverging)-1)/(n-1)]
	case "q_reward":
		c := qLevels[(i/2)%len(qLevels)]
		if i%2 == 1 {
			c = tint(c, 0.45)
		}
		return c
	}
	return categorical[i%len(categorical)]
}

// curveDashed reports whether label i of a condition group is drawn dashed: the unrewarded
// curves of the Q groups, so that a level's pair reads as one colour, two strokes.
func curveDashed(group string, i int) bool { return group == "q_reward" && i%2 == 1 }

// tint mixes c with white: f = 0 is c, 1 is white.
func tint(c color.NRGBA, f float64) color.NRGBA {
	mix := func(v uint8) uint8 { return uint8(float64(v) + (255-float64(v))*f) }
	return color.NRGBA{mix(c.R), mix(c.G), mix(c.B), c.A}
}

// legendRowPx and plotAreaPx are the height of one legend entry and of a panel's data area,
// in pixels, for legendHeadroom.
const (
	legendRowPx = 15
	plotAreaPx  = PanelHeight - 80
)

// legendHeadroom raises the top of pl's Y axis so that a legend of n entries at the top
// sits above the data instead of over it (gonum draws legends inside the data area).
func legendHeadroom(pl *plot.Plot, n int) {
	if n == 0 || !(pl.Y.Max > pl.Y.Min) {
		return
	}
	f := math.Min(float64(n*legendRowPx+8)/plotAreaPx, 0.6)
	pl.Y.Max += (pl.Y.Max - pl.Y.Min) * f / (1 - f)
}

// psthRow returns one panel per condition group, each with the mean ± SEM of its
// conditions.
func psthRow(title string, curves map[string]Curve, g Grid) []*plot.Plot {
	row := make([]*plot.Plot, 0, len(conditionGroups))
	tau := g.Tau()
	for _, cg := range conditionGroups {
		pl := plot.New()
		pl.Title.Text = title + ": " + cg.Group
		pl.X.Label.Text = "time from choice (s)"
		pl.Y.Label.Text = "z dF/F - baseline"
		pl.Legend.Top = true
		entries := 0
		for i, label := range cg.Labels {
			c, ok := curves[label]
			if !ok {
				continue
			}
			addCurve(pl, tau, c, curveColor(cg.Group, i, len(cg.Labels)), curveDashed(cg.Group, i), fmt.Sprintf("%s (n=%d)", label, c.N))
			entries++
		}
		legendHeadroom(pl, entries)
		pl.Add(plotter.NewGrid())
		row = append(row, pl)
	}
	return row
}

// addCurve draws the mean as a line (dashed if asked) and mean ± SEM as a shaded band,
// skipping NaNs.
func addCurve(pl *plot.Plot, tau []float64, c Curve, col color.Color, dashed bool, label string) {
	var seg, band plotter.XYs
	var lo plotter.XYs
	flush := func() {
		if len(seg) > 1 {
			if len(band) > 1 {
				poly := append(plotter.XYs{}, band...)
				for i := len(lo) - 1; i >= 0; i-- {
					poly = append(poly, lo[i])
				}
				if pg, err := plotter.NewPolygon(poly); err == nil {
					r, g, b, _ := col.RGBA()
					pg.Color = color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 60}
					pg.LineStyle.Width = 0
					pl.Add(pg)
				}
			}
			if l, err := plotter.NewLine(seg); err == nil {
				l.Color = col
				l.Width = vg.Points(1.5)
				if dashed {
					l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
				}
				pl.Add(l)
				if label != "" {
					pl.Legend.Add(label, l)
					label = ""
				}
			}
		}
		seg, band, lo = nil, nil, nil
	}
	for k, t := range tau {
		m := c.Mean[k]
		if math.IsNaN(m) {
			flush()
			continue
		}
		seg = append(seg, plotter.XY{X: t, Y: m})
		if s := c.SEM[k]; !math.IsNaN(s) {
			band = append(band, plotter.XY{X: t, Y: m + s})
			lo = append(lo, plotter.XY{X: t, Y: m - s})
		}
	}
	flush()
}

// rpeScatter plots A_i against RPE with the fits for RPE < 0 and RPE >= 0.
func rpeScatter(title string, cs *ChannelSession) *plot.Plot {
	pl := plot.New()
	pl.Title.Text = title
	pl.X.Label.Text = "RPE (earned - Q chosen)"
	pl.Y.Label.Text = "A (mean z, 0.33-1 s)"
	var pts plotter.XYs
	for i, t := range cs.Session.Trials {
		if t.Finished() && !math.IsNaN(t.RPE) && !math.IsNaN(cs.A[i]) {
			pts = append(pts, plotter.XY{X: t.RPE, Y: cs.A[i]})
		}
	}
	if s, err := plotter.NewScatter(pts); err == nil && len(pts) > 0 {
		s.GlyphStyle.Radius = vg.Points(1.5)
		s.GlyphStyle.Color = color.Gray{Y: 100}
		pl.Add(s)
	}
	// Each fit is drawn over the RPE range of its own trials.
	lo := [2]float64{math.Inf(1), math.Inf(1)}
	hi := [2]float64{math.Inf(-1), math.Inf(-1)}
	for _, pt := range pts {
		side := 0
		if pt.X >= 0 {
			side = 1
		}
		lo[side], hi[side] = math.Min(lo[side], pt.X), math.Max(hi[side], pt.X)
	}
	fits := 0
	for i, f := range []struct {
		fit  Fit
		name string
	}{{cs.Neg, "RPE < 0"}, {cs.Pos, "RPE ≥ 0"}} {
		if math.IsNaN(f.fit.Slope) || lo[i] > hi[i] {
			continue
		}
		line := plotter.XYs{{X: lo[i], Y: f.fit.Intercept + f.fit.Slope*lo[i]}, {X: hi[i], Y: f.fit.Intercept + f.fit.Slope*hi[i]}}
		if l, err := plotter.NewLine(line); err == nil {
			l.Color = categorical[i]
			l.Width = vg.Points(2)
			pl.Add(l)
			pl.Legend.Add(fmt.Sprintf("%s: slope %.2f ± %.2f, r %.2f, n %d", f.name, f.fit.Slope, f.fit.SE, f.fit.R, f.fit.N), l)
			fits++
		}
	}
	legendHeadroom(pl, fits)
	pl.Legend.Top = true
	pl.Legend.Left = true
	pl.Add(plotter.NewGrid())
	return pl
}

// savePNG draws a grid of panels (rows may be ragged: short rows leave blanks) into a
// PNG of PanelWidth x PanelHeight pixels per panel.
func savePNG(path string, grid [][]*plot.Plot) error {
	rows, cols := len(grid), 0
	for _, r := range grid {
		cols = max(cols, len(r))
	}
	if rows == 0 || cols == 0 {
		return fmt.Errorf("nothing to plot")
	}
	px := func(n int) vg.Length { return vg.Length(n) * vg.Inch / plotDPI }
	img := vgimg.NewWith(vgimg.UseWH(px(cols*PanelWidth), px(rows*PanelHeight)), vgimg.UseDPI(plotDPI))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	full := make([][]*plot.Plot, rows)
	for i := range full {
		full[i] = make([]*plot.Plot, cols)
		copy(full[i], grid[i])
	}
	canvases := plot.Align(full, tiles, dc)
	for i := range full {
		for j, pl := range full[i] {
			if pl != nil {
				pl.Draw(canvases[i][j])
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
