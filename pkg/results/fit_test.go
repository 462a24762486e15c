package results

import (
	"strings"
	"testing"
)

// TestFitKeepsATerminalRowShort: Fit drops list and object columns, cuts hashes and long
// cells, and keeps only the columns that fit the width, reporting how many it left out.
func TestFitKeepsATerminalRowShort(t *testing.T) {
	long := strings.Repeat("x", 200)
	tb := Table{
		Columns: []string{ColHash, ColCodeName, "output.n", "output.curve", "output.note", "output.z"},
		Rows: [][]string{
			{strings.Repeat("a", 64), "aind-foraging", "3", "[1,2,3]", long, "0.5"},
			{strings.Repeat("b", 64), "aind-foraging", "4", `{"k":1}`, "short", "0.7"},
		},
	}
	fit, hidden := tb.Fit(70)
	if strings.Join(fit.Columns, ",") != "hash,code_name,output.n,output.note" || hidden != 2 {
		t.Fatalf("columns %v, %d hidden; want hash,code_name,output.n,output.note and 2 hidden", fit.Columns, hidden)
	}
	var b strings.Builder
	if err := fit.Write(&b, FormatTable); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if n := len([]rune(line)); n > 70 {
			t.Errorf("line of %d characters, want at most 70: %q", n, line)
		}
	}
	if fit.Rows[0][0] != "aaaaaaaaaaaa" || !strings.HasSuffix(fit.Rows[0][3], "…") {
		t.Errorf("row %v: want a 12-character hash and a cut long cell", fit.Rows[0])
	}
	if one, hidden := tb.Fit(5); len(one.Columns) != 1 || hidden != 5 {
		t.Errorf("a narrow terminal: columns %v, %d hidden; want the first column only", one.Columns, hidden)
	}
}
