package foraging

import (
	"image/color"
	"strings"
	"testing"
)

// TestCurveColorsDistinct: within every condition group no two curves share a colour (the
// RPE bins of a PSTH were once drawn red at both ends), and the RPE bins run from blue to
// red in order.
func TestCurveColorsDistinct(t *testing.T) {
	for _, cg := range conditionGroups {
		seen := map[color.NRGBA]string{}
		for i, label := range cg.Labels {
			c := color.NRGBAModel.Convert(curveColor(cg.Group, i, len(cg.Labels))).(color.NRGBA)
			if other, ok := seen[c]; ok {
				t.Errorf("%s: %q and %q share colour %v", cg.Group, other, label, c)
			}
			seen[c] = label
		}
	}
	rpe := rpeLabels()
	for i := 1; i < len(rpe); i++ {
		prev := color.NRGBAModel.Convert(curveColor("rpe", i-1, len(rpe))).(color.NRGBA)
		cur := color.NRGBAModel.Convert(curveColor("rpe", i, len(rpe))).(color.NRGBA)
		redness := func(c color.NRGBA) float64 { return float64(c.R) / float64(int(c.R)+int(c.B)+1) }
		if redness(cur) <= redness(prev) {
			t.Errorf("RPE bin %s (%v) is not redder than %s (%v)", rpe[i], cur, rpe[i-1], prev)
		}
	}
}

// TestChannelTitle: a label with its own parentheses is not wrapped in another pair.
func TestChannelTitle(t *testing.T) {
	for _, tt := range []struct{ c, label, want string }{
		{"G_0", "NAc DA (synthetic)", "G_0: NAc DA (synthetic)"},
		{"G_1", "", "G_1"},
		{"R_0", "R_0", "R_0"},
	} {
		got := channelTitle(tt.c, tt.label)
		if got != tt.want || strings.Contains(got, "((") || strings.Contains(got, "))") {
			t.Errorf("channelTitle(%q, %q) = %q, want %q", tt.c, tt.label, got, tt.want)
		}
	}
}

// TestLegendSitsAboveTheData: a panel's Y axis leaves room at the top for its legend (one
// row per curve), so the legend is not drawn over the curves, and the room grows with the
// number of entries.
func TestLegendSitsAboveTheData(t *testing.T) {
	g := Grid{Start: -1, Rate: 10, N: 50}
	curve := func() Curve {
		c := Curve{N: 3}
		for k := 0; k < g.N; k++ {
			c.Mean = append(c.Mean, float64(k)/float64(g.N-1)) // 0 .. 1
			c.SEM = append(c.SEM, 0)
		}
		return c
	}
	curves := map[string]Curve{}
	for _, cg := range conditionGroups {
		for _, l := range cg.Labels {
			curves[l] = curve()
		}
	}
	row := psthRow("t", curves, g)
	room := map[string]float64{}
	for i, cg := range conditionGroups {
		pl := row[i]
		span := pl.Y.Max - pl.Y.Min
		free := (pl.Y.Max - 1) / span // the part of the axis above the data
		need := float64(len(cg.Labels)*legendRowPx) / plotAreaPx
		if free < need {
			t.Errorf("%s: %.0f%% of the axis above the data, the legend of %d entries needs %.0f%%", cg.Group, 100*free, len(cg.Labels), 100*need)
		}
		room[cg.Group] = free
	}
	if room["q_reward"] <= room["reward"] {
		t.Errorf("6 entries get no more room (%.2f) than 2 (%.2f)", room["q_reward"], room["reward"])
	}
}

// TestQGroupsPairByLevel: each Q level has one hue; its unrewarded curve is a lighter
// tint of it, dashed, and the rewarded one solid.
func TestQGroupsPairByLevel(t *testing.T) {
	labels := conditionGroups[3].Labels
	if conditionGroups[3].Group != "q_reward" || len(labels) != 6 {
		t.Fatalf("condition group 3 is %s %v", conditionGroups[3].Group, labels)
	}
	for i := 0; i < len(labels); i += 2 {
		rew := color.NRGBAModel.Convert(curveColor("q_reward", i, 6)).(color.NRGBA)
		unrew := color.NRGBAModel.Convert(curveColor("q_reward", i+1, 6)).(color.NRGBA)
		if unrew != tint(rew, 0.45) || curveDashed("q_reward", i) || !curveDashed("q_reward", i+1) {
			t.Errorf("%s %v and %s %v: want the second a dashed tint of the first", labels[i], rew, labels[i+1], unrew)
		}
	}
}
