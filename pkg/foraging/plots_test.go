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
