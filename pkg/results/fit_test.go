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

// TestFitShowsColumnsThatTellRowsApart: on a terminal with room for a few columns, the
// parameter and output columns whose values differ between rows come first (top-level
// keys before nested ones), not the first ones in alphabetical order; hash, created and
// code_name keep their places.
func TestFitShowsColumnsThatTellRowsApart(t *testing.T) {
	tb := Table{
		Columns: []string{ColHash, ColCreated, ColCodeName, "output.channels.G_0.label", "output.channels.G_0.slope",
			"output.empty", "output.subject_id", "param.analysis_name", "param.cutoff"},
		Rows: [][]string{
			{strings.Repeat("a", 64), "2026-01-02T03:04:05Z", "aind-foraging", "NAc DA", "0.51", "", "816886", "demo", "0.25"},
			{strings.Repeat("b", 64), "2026-01-02T03:04:06Z", "aind-foraging", "NAc DA", "0.42", "", "900001", "demo", "0.5"},
		},
	}
	fit, hidden := tb.Fit(90)
	want := "hash,created,code_name,output.subject_id,param.cutoff"
	if got := strings.Join(fit.Columns, ","); got != want || hidden != 4 {
		t.Fatalf("columns %s, %d hidden; want %s and 4 hidden", got, hidden, want)
	}
	all, hidden := tb.Fit(1000)
	want = "hash,created,code_name,output.subject_id,param.cutoff,output.…G_0.slope,param.analysis_name,output.…G_0.label,output.empty"
	if got := strings.Join(all.Columns, ","); got != want || hidden != 0 {
		t.Fatalf("wide terminal: columns %s, %d hidden; want %s", got, hidden, want)
	}
}

// TestFitHeadersAreDistinct: a header longer than maxCell keeps its kind and the end of its
// path (the keys that tell columns apart), not its beginning, so two long paths with the
// same beginning get different headers; headers that would still be the same are widened
// until they differ.
func TestFitHeadersAreDistinct(t *testing.T) {
	tests := []struct {
		name    string
		columns []string
		want    []string
	}{
		{"the same beginning", []string{"output.channels.G_0.slope_a", "output.channels.G_0.slope_b"},
			[]string{"output.…G_0.slope_a", "output.…G_0.slope_b"}},
		{"the same beginning, one level up", []string{"output.channels.G_0.label", "output.channels.G_0.slope"},
			[]string{"output.…G_0.label", "output.…G_0.slope"}},
		{"short names as they are", []string{ColHash, "output.n", "param.cutoff"},
			[]string{ColHash, "output.n", "param.cutoff"}},
		{"a parameter and an output with the same key", []string{"output.fit.parameters.learn_rate", "param.fit.parameters.learn_rate"},
			[]string{"output.…learn_rate", "param.…learn_rate"}},
		{"one long key: its end", []string{"param.a_really_long_parameter_name"},
			[]string{"param.…ng_parameter_name"}},
		{"the same end too: widened to the whole path", []string{"output.a.a_long_common_name_xyz.value", "output.b.a_long_common_name_xyz.value"},
			[]string{"output.a.a_long_common_name_xyz.value", "output.b.a_long_common_name_xyz.value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := Table{Columns: tt.columns, Rows: [][]string{make([]string, len(tt.columns))}}
			for j := range tt.columns {
				tb.Rows[0][j] = "1"
			}
			fit, hidden := tb.Fit(1000)
			if hidden != 0 {
				t.Fatalf("%d columns hidden", hidden)
			}
			seen := map[string]bool{}
			for _, h := range fit.Columns {
				if seen[h] {
					t.Fatalf("headers %q: %q twice", fit.Columns, h)
				}
				seen[h] = true
			}
			if strings.Join(fit.Columns, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("headers %q, want %q", fit.Columns, tt.want)
			}
		})
	}
}
