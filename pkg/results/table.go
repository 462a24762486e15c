package results

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/gocarina/gocsv"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/result"
)

// Column names. "param.<key>" and "output.<key>" name one parameter or (flattened)
// output value; "params.*" and "outputs.*" expand to every key the records have.
const (
	ColHash     = "hash"
	ColCreated  = "created"
	ColLocation = "location"
	ColCodeURL  = "code_url"
	ColCodeName = "code_name"
	ColVersion  = "code_version"
	ColInputs   = "inputs"
	ColDuration = "duration_s"
	ParamPrefix = "param."
	OutPrefix   = "output."
	AllParams   = "params.*"
	AllOutputs  = "outputs.*"
)

// TerminalColumns are the columns a terminal shows when none are chosen, before Fit keeps
// those that fit: the output values first, since they differ between rows.
var TerminalColumns = []string{ColHash, ColCreated, ColCodeName, AllOutputs, AllParams, ColInputs}

// DefaultColumns are the columns shown when none are chosen.
var DefaultColumns = []string{ColHash, ColCreated, ColCodeName, ColVersion, ColInputs, AllParams, AllOutputs}

// fixedColumns are the columns that are not parameters or outputs.
var fixedColumns = map[string]func(result.Record) string{
	ColHash:     func(r result.Record) string { return r.ID },
	ColCreated:  func(r result.Record) string { return r.Created },
	ColLocation: func(r result.Record) string { return r.Location },
	ColCodeURL:  func(r result.Record) string { return r.Process().Code.URL },
	ColCodeName: func(r result.Record) string { return r.Process().Code.Name },
	ColVersion:  func(r result.Record) string { return r.Process().Code.Version },
	ColInputs:   func(r result.Record) string { return joinInputs(r.Inputs()) },
	ColDuration: func(r result.Record) string {
		if d := r.Duration(); d > 0 {
			return fmt.Sprintf("%.3f", d.Seconds())
		}
		return ""
	},
}

// Table is records flattened into rows of text cells.
type Table struct {
	Columns []string
	Rows    [][]string
}

// NewTable flattens recs into the chosen columns (DefaultColumns when none), expanding the
// wildcards. An unknown column is a usage error naming the known ones.
func NewTable(recs []result.Record, columns []string) (Table, error) {
	if len(columns) == 0 {
		columns = DefaultColumns
	}
	params := make([]map[string]any, len(recs))
	outputs := make([]map[string]any, len(recs))
	allP, allO := map[string]bool{}, map[string]bool{}
	for i, r := range recs {
		params[i], outputs[i] = map[string]any{}, map[string]any{}
		Flatten("", r.Process().Code.Parameters, params[i])
		Flatten("", r.Process().OutputParameters, outputs[i])
		for k := range params[i] {
			allP[k] = true
		}
		for k := range outputs[i] {
			allO[k] = true
		}
	}
	var cols []string
	for _, c := range columns {
		switch {
		case c == AllParams:
			for _, k := range sortedKeys(allP) {
				cols = append(cols, ParamPrefix+k)
			}
		case c == AllOutputs:
			for _, k := range sortedKeys(allO) {
				cols = append(cols, OutPrefix+k)
			}
		case strings.HasPrefix(c, ParamPrefix) || strings.HasPrefix(c, OutPrefix) || fixedColumns[c] != nil:
			cols = append(cols, c)
		default:
			return Table{}, fault.Usagef("unknown column %q (known: %s, %s, %s<key>, %s<key>)",
				c, strings.Join(sortedKeys(fixedColumns), ", "), AllParams+", "+AllOutputs, ParamPrefix, OutPrefix)
		}
	}
	t := Table{Columns: cols}
	for i, r := range recs {
		row := make([]string, len(cols))
		for j, c := range cols {
			switch {
			case strings.HasPrefix(c, ParamPrefix):
				row[j] = FormatValue(params[i][strings.TrimPrefix(c, ParamPrefix)])
			case strings.HasPrefix(c, OutPrefix):
				row[j] = FormatValue(outputs[i][strings.TrimPrefix(c, OutPrefix)])
			default:
				row[j] = fixedColumns[c](r)
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// Output formats.
const (
	FormatTable = "table"
	FormatCSV   = "csv"
	FormatJSONL = "jsonl"
)

// Write writes the table as an aligned text table, CSV (header row first) or JSON lines
// (one object per row, column -> cell).
func (t Table) Write(w io.Writer, format string) error {
	switch format {
	case FormatCSV:
		// Columns are dynamic (one per parameter and output), so rows are written through
		// gocsv's writer rather than marshalled from a struct.
		cw := gocsv.DefaultCSVWriter(w)
		if err := cw.Write(t.Columns); err != nil {
			return err
		}
		for _, row := range t.Rows {
			if err := cw.Write(row); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	case FormatJSONL:
		enc := json.NewEncoder(w)
		for _, row := range t.Rows {
			obj := make(map[string]string, len(row))
			for j, c := range t.Columns {
				obj[c] = row[j]
			}
			if err := enc.Encode(obj); err != nil {
				return err
			}
		}
		return nil
	default:
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(t.Columns, "\t"))
		for _, row := range t.Rows {
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		return tw.Flush()
	}
}

// maxCell is the widest cell Fit keeps (longer ones end in "…").
const maxCell = 24

// Fit returns the table as a terminal shows it by default: hashes cut to 12 characters,
// long cells cut to maxCell, long headers shortened to distinct ones (see headers), list
// and object cells dropped (their columns with them), the parameter and output columns
// ordered by what they tell (see informative), and only the leading columns whose aligned
// width fits in width (at least the first). It also returns how many columns it left out.
func (t Table) Fit(width int) (Table, int) {
	keep := make([]int, 0, len(t.Columns))
	for j := range t.Columns {
		nested := false
		for _, row := range t.Rows {
			if v := row[j]; strings.HasPrefix(v, "[") || strings.HasPrefix(v, "{") {
				nested = true
				break
			}
		}
		if !nested {
			keep = append(keep, j)
		}
	}
	keep = t.informative(keep)
	cut := func(col, s string) string {
		switch {
		case col == ColHash:
			return short(s) // as everywhere else: the first 12 hex digits
		case col == ColCreated && len(s) >= 19:
			return strings.Replace(s[:19], "T", " ", 1) // to the second, UTC
		}
		return cell(s, maxCell)
	}
	names := make([]string, len(keep))
	for i, j := range keep {
		names[i] = t.Columns[j]
	}
	heads := map[int]string{}
	for i, h := range headers(names) {
		heads[keep[i]] = h
	}
	out := Table{}
	used := 0
	var cols []int
	for _, j := range keep {
		w := len([]rune(heads[j]))
		for _, row := range t.Rows {
			w = max(w, len([]rune(cut(t.Columns[j], row[j]))))
		}
		if len(cols) > 0 && used+w > width {
			break
		}
		used += w + 2
		cols = append(cols, j)
	}
	for _, j := range cols {
		out.Columns = append(out.Columns, heads[j])
	}
	for _, row := range t.Rows {
		r := make([]string, len(cols))
		for i, j := range cols {
			r[i] = cut(t.Columns[j], row[j])
		}
		out.Rows = append(out.Rows, r)
	}
	return out, len(t.Columns) - len(cols)
}

// headers returns the columns' headers, distinct: each cut to maxCell by header, and
// those that would still be the same widened, a character at a time, until they differ
// (at worst to the whole column name).
func headers(columns []string) []string {
	limit := make([]int, len(columns))
	for i := range limit {
		limit[i] = maxCell
	}
	heads := make([]string, len(columns))
	for {
		at := map[string][]int{}
		for i, c := range columns {
			heads[i] = header(c, limit[i])
			at[heads[i]] = append(at[heads[i]], i)
		}
		widened := false
		for _, same := range at {
			if len(same) < 2 {
				continue
			}
			for _, i := range same {
				if limit[i] < len([]rune(columns[i])) {
					limit[i]++
					widened = true
				}
			}
		}
		if !widened {
			return heads
		}
	}
}

// header cuts a column name longer than n characters to n: it keeps its kind ("output."
// or "param.") and the end of its path, the keys that tell columns apart (two outputs
// under channels.G_0 differ in their last key), as whole keys when they fit:
// "output.channels.G_0.slope_a" is "output.…G_0.slope_a".
func header(col string, n int) string {
	if len([]rune(col)) <= n {
		return col
	}
	kind := ""
	for _, p := range []string{OutPrefix, ParamPrefix} {
		if strings.HasPrefix(col, p) {
			kind = p
		}
	}
	room := n - len(kind) - 1 // 1 for "…"
	if room < 1 {
		kind, room = "", n-1
	}
	path := strings.TrimPrefix(col, kind)
	keys := strings.Split(path, ".")
	tail := ""
	for i := len(keys) - 1; i >= 0; i-- {
		t := strings.Join(keys[i:], ".")
		if len([]rune(t)) > room {
			break
		}
		tail = t
	}
	if tail == "" { // the last key alone is too long: its end
		r := []rune(path)
		tail = string(r[len(r)-max(room, 0):])
	}
	return kind + "…" + tail
}

// informative reorders the parameter and output columns among cols (the others keep their
// places): first those whose values differ between rows (a subject id, a score), then
// those with one value for every row, then the empty ones; within each, top-level keys
// before nested ones (subject_id before channels.G_0.label), then in their order. On a
// terminal wide enough for a few columns, the ones that tell rows apart are shown.
func (t Table) informative(cols []int) []int {
	var slots, values []int
	for i, j := range cols {
		if c := t.Columns[j]; strings.HasPrefix(c, ParamPrefix) || strings.HasPrefix(c, OutPrefix) {
			slots = append(slots, i)
			values = append(values, j)
		}
	}
	rank := func(j int) int {
		distinct := map[string]bool{}
		for _, row := range t.Rows {
			if row[j] != "" {
				distinct[row[j]] = true
			}
		}
		switch {
		case len(distinct) > 1:
			return 0
		case len(distinct) == 1:
			return 1
		}
		return 2
	}
	depth := func(j int) int {
		c := strings.TrimPrefix(strings.TrimPrefix(t.Columns[j], ParamPrefix), OutPrefix)
		return strings.Count(c, ".")
	}
	sort.SliceStable(values, func(a, b int) bool {
		ra, rb := rank(values[a]), rank(values[b])
		if ra != rb {
			return ra < rb
		}
		return depth(values[a]) < depth(values[b])
	})
	out := append([]int{}, cols...)
	for i, slot := range slots {
		out[slot] = values[i]
	}
	return out
}
