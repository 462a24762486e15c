package foraging

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/foraging/internal/chatter"
)

// Table is a flat table read column by column: numeric and boolean columns as float64
// (booleans 0/1, nulls NaN), every other column as strings.
type Table struct {
	// Name names the table's source in error messages (a file path or URL).
	Name string
	// Rows is the number of rows.
	Rows int
	// Notes are what the parquet library printed while decoding it (debug-log material).
	Notes []string
	num   map[string][]float64
	str   map[string][]string
}

// Float returns the numeric column name, or an error naming the table and the column.
func (t *Table) Float(name string) ([]float64, error) {
	if c, ok := t.num[name]; ok {
		return c, nil
	}
	if _, ok := t.str[name]; ok {
		return nil, fmt.Errorf("%s: column %q is not numeric", t.Name, name)
	}
	return nil, fmt.Errorf("%s: missing column %q", t.Name, name)
}

// String returns the text column name, or an error naming the table and the column.
func (t *Table) String(name string) ([]string, error) {
	if c, ok := t.str[name]; ok {
		return c, nil
	}
	if c, ok := t.num[name]; ok {
		s := make([]string, len(c))
		for i, v := range c {
			s[i] = strconv.FormatFloat(v, 'g', -1, 64)
		}
		return s, nil
	}
	return nil, fmt.Errorf("%s: missing column %q", t.Name, name)
}

// Has reports whether the table has a column called name.
func (t *Table) Has(name string) bool {
	_, n := t.num[name]
	_, s := t.str[name]
	return n || s
}

// ReadTable reads parquet (by its magic bytes) or CSV text from data; name is used in
// errors. A df_sess saved with a .parquet name but holding CSV text is read as CSV.
func ReadTable(data []byte, name string) (*Table, error) {
	if len(data) >= 4 && string(data[:4]) == "PAR1" {
		return readParquet(data, name)
	}
	return readCSV(data, name)
}

// parquetChatter is how parquet-go's println warnings begin.
var parquetChatter = []string{"parquet: "}

// readParquet decodes the table, keeping what parquet-go prints to standard error (it
// warns with println about byte-array pages of the shipped tables, whose values it reads
// correctly) in the table's Notes instead.
func readParquet(data []byte, name string) (t *Table, err error) {
	notes := chatter.Capture(parquetChatter, func() { t, err = decodeParquet(data, name) })
	if t != nil {
		t.Notes = notes
	}
	return t, err
}

func decodeParquet(data []byte, name string) (*Table, error) {
	pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("reading parquet %s: %w", name, err)
	}
	t := &Table{Name: name, Rows: int(pf.NumRows()), num: map[string][]float64{}, str: map[string][]string{}}
	leaves := pf.Schema().Columns()
	kinds := make([]string, len(leaves)) // "num" or "str"
	names := make([]string, len(leaves))
	for i, path := range leaves {
		if len(path) != 1 {
			return nil, fmt.Errorf("reading parquet %s: nested column %q is not supported", name, strings.Join(path, "."))
		}
		names[i] = path[0]
		leaf, _ := pf.Schema().Lookup(path...)
		switch leaf.Node.Type().Kind() {
		case parquet.Boolean, parquet.Int32, parquet.Int64, parquet.Float, parquet.Double:
			kinds[i] = "num"
			t.num[names[i]] = make([]float64, 0, t.Rows)
		default:
			kinds[i] = "str"
			t.str[names[i]] = make([]string, 0, t.Rows)
		}
	}
	r := parquet.NewReader(pf)
	defer r.Close()
	buf := make([]parquet.Row, 256)
	for {
		n, err := r.ReadRows(buf)
		for _, row := range buf[:n] {
			for _, v := range row {
				c := v.Column()
				if c < 0 || c >= len(names) {
					continue
				}
				if kinds[c] == "num" {
					t.num[names[c]] = append(t.num[names[c]], valueFloat(v))
				} else {
					s := ""
					if !v.IsNull() {
						s = string(v.ByteArray())
					}
					t.str[names[c]] = append(t.str[names[c]], s)
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading parquet %s rows: %w", name, err)
		}
		if n == 0 {
			break
		}
	}
	for i, nm := range names {
		got := len(t.str[nm])
		if kinds[i] == "num" {
			got = len(t.num[nm])
		}
		if got != t.Rows {
			return nil, fmt.Errorf("reading parquet %s: column %q has %d values for %d rows", name, nm, got, t.Rows)
		}
	}
	return t, nil
}

func valueFloat(v parquet.Value) float64 {
	if v.IsNull() {
		return math.NaN()
	}
	switch v.Kind() {
	case parquet.Boolean:
		if v.Boolean() {
			return 1
		}
		return 0
	case parquet.Int32:
		return float64(v.Int32())
	case parquet.Int64:
		return float64(v.Int64())
	case parquet.Float:
		return float64(v.Float())
	case parquet.Double:
		return v.Double()
	}
	return math.NaN()
}

func readCSV(data []byte, name string) (*Table, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("reading CSV %s: %w", name, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("reading CSV %s: empty file (no header)", name)
	}
	header := recs[0]
	rows := recs[1:]
	t := &Table{Name: name, Rows: len(rows), num: map[string][]float64{}, str: map[string][]string{}}
	for i, row := range rows {
		if len(row) != len(header) {
			return nil, fmt.Errorf("reading CSV %s: line %d has %d fields, header has %d", name, i+2, len(row), len(header))
		}
	}
	for j, h := range header {
		vals := make([]float64, len(rows))
		numeric := true
		for i, row := range rows {
			v, ok := parseCell(row[j])
			if !ok {
				numeric = false
				break
			}
			vals[i] = v
		}
		if numeric && len(rows) > 0 {
			t.num[h] = vals
			continue
		}
		s := make([]string, len(rows))
		for i, row := range rows {
			s[i] = row[j]
		}
		t.str[h] = s
	}
	return t, nil
}

// parseCell reads a CSV cell as a number: floats, True/False, and empty or NaN as NaN.
func parseCell(s string) (float64, bool) {
	switch strings.TrimSpace(s) {
	case "", "nan", "NaN", "None", "null":
		return math.NaN(), true
	case "True", "true":
		return 1, true
	case "False", "false":
		return 0, true
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return v, err == nil
}
