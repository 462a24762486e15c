package identity

// Property tests of the identity hash: random JSON values, written out again in
// equivalent forms (shuffled keys, other number spellings, other string escapes, extra
// white space, null members added or left out), must keep their hash; one real change
// anywhere must change it. Every generator has a fixed seed, so a failure reproduces.

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
)

const propertyIterations = 2000

// gen makes random JSON-like Go values: map[string]any, []any, string, int64, float64,
// bool and nil, nested at most maxDepth containers deep.
type gen struct {
	r        *rand.Rand
	maxDepth int
}

func newGen(seed uint64) *gen {
	return &gen{r: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)), maxDepth: 4}
}

// object returns a random object (the shape of parameters).
func (g *gen) object(depth int) map[string]any {
	n := g.r.IntN(5)
	m := make(map[string]any, n)
	for len(m) < n {
		m[g.str(6)] = g.value(depth + 1)
	}
	return m
}

func (g *gen) value(depth int) any {
	kinds := 7
	if depth >= g.maxDepth {
		kinds = 5 // leaves only
	}
	switch g.r.IntN(kinds) {
	case 0:
		return g.str(8)
	case 1:
		return g.integer()
	case 2:
		return g.float()
	case 3:
		return g.r.IntN(2) == 0
	case 4:
		return nil
	case 5:
		return g.object(depth)
	default:
		n := g.r.IntN(5)
		l := make([]any, n)
		for i := range l {
			l[i] = g.value(depth + 1)
		}
		return l
	}
}

// integer returns an int64 a double holds exactly (|n| <= 2^53).
func (g *gen) integer() int64 {
	switch g.r.IntN(3) {
	case 0:
		return g.r.Int64N(21) - 10
	case 1:
		return g.r.Int64N(2_000_001) - 1_000_000
	default:
		return g.r.Int64N(1<<54+1) - 1<<53
	}
}

func (g *gen) float() float64 {
	switch g.r.IntN(4) {
	case 0: // a short decimal, like a threshold: 0.05, -12.5
		return float64(g.r.Int64N(20001)-10000) / math.Pow10(g.r.IntN(5)+1)
	case 1: // any magnitude
		return g.r.NormFloat64() * math.Pow10(g.r.IntN(41)-20)
	case 2: // full precision in [0, 1)
		return g.r.Float64()
	default:
		edges := []float64{5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308, 1e21, 1e-7, 0.1, 1.0 / 3, 9007199254740993}
		return edges[g.r.IntN(len(edges))]
	}
}

var alphabet = []rune("abcxyzABZ019 _-./\"\\\n\t\x01\x1f<>&é漢字😀\u2028\u2029\u00a0\ufeff")

func (g *gen) str(maxLen int) string {
	n := g.r.IntN(maxLen + 1)
	var sb strings.Builder
	for range n {
		sb.WriteRune(alphabet[g.r.IntN(len(alphabet))])
	}
	return sb.String()
}

// variant writes v as JSON text that means the same to the identity: object keys in a
// random order, numbers and strings spelled another valid way, random insignificant white
// space, and object members whose value is null added (fresh keys) or left out.
func (g *gen) variant(v any) string {
	var sb strings.Builder
	g.write(&sb, v)
	g.ws(&sb)
	return sb.String()
}

func (g *gen) ws(sb *strings.Builder) {
	for g.r.IntN(3) == 0 {
		sb.WriteByte(" \t\n\r"[g.r.IntN(4)])
	}
}

func (g *gen) write(sb *strings.Builder, v any) {
	g.ws(sb)
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t)+2)
		for _, k := range slices.Sorted(maps.Keys(t)) { // sorted: map order would break the fixed seed
			if t[k] == nil && g.r.IntN(2) == 0 {
				continue // a null member means the same as no member
			}
			keys = append(keys, k)
		}
		for n := g.r.IntN(3); n > 0; n-- {
			k := g.str(6)
			if _, taken := t[k]; !taken && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		g.r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		sb.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				g.ws(sb)
				sb.WriteByte(',')
			}
			g.ws(sb)
			g.writeString(sb, k)
			g.ws(sb)
			sb.WriteByte(':')
			g.write(sb, t[k]) // absent from t: null
			g.ws(sb)
		}
		g.ws(sb)
		sb.WriteByte('}')
	case []any:
		sb.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				g.ws(sb)
				sb.WriteByte(',')
			}
			g.write(sb, e)
			g.ws(sb)
		}
		g.ws(sb)
		sb.WriteByte(']')
	case string:
		g.writeString(sb, t)
	case int64:
		g.writeNumber(sb, t < 0, strconv.FormatUint(absInt(t), 10), 0)
	case float64:
		// The shortest decimal that reads back as t: every spelling of the same decimal
		// value reads back as t too.
		m, e, _ := strings.Cut(strconv.FormatFloat(math.Abs(t), 'e', -1, 64), "e")
		exp, _ := strconv.Atoi(e)
		intPart, frac, _ := strings.Cut(m, ".")
		g.writeNumber(sb, math.Signbit(t), intPart+frac, exp-len(frac))
	case bool:
		sb.WriteString(strconv.FormatBool(t))
	case nil:
		sb.WriteString("null")
	default:
		panic(fmt.Sprintf("unexpected %T", v))
	}
}

func absInt(n int64) uint64 {
	if n < 0 {
		return uint64(-n)
	}
	return uint64(n)
}

// writeNumber writes the value digits × 10^exp in a random valid JSON spelling: trailing
// zeros added to the digits, the decimal point anywhere (with leading zeros after it),
// and an exponent (e or E, with or without "+") when the point moved. Zero may be "-0".
func (g *gen) writeNumber(sb *strings.Builder, negative bool, digits string, exp int) {
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		digits, exp = "0", 0
		negative = g.r.IntN(4) == 0 // -0 is 0 as well
	}
	if negative {
		sb.WriteByte('-')
	}
	if z := g.r.IntN(4); z > 0 && digits != "0" && g.r.IntN(2) == 0 {
		digits += strings.Repeat("0", z)
		exp -= z
	}
	// k digits go after the point; the printed exponent makes up for it.
	k := g.r.IntN(len(digits) + 3)
	if g.r.IntN(3) == 0 {
		k = 0
	}
	printedExp := exp + k
	switch {
	case k == 0:
		sb.WriteString(digits)
	case k >= len(digits):
		sb.WriteString("0.")
		sb.WriteString(strings.Repeat("0", k-len(digits)))
		sb.WriteString(digits)
	default:
		intPart := strings.TrimLeft(digits[:len(digits)-k], "0")
		if intPart == "" {
			intPart = "0"
		}
		sb.WriteString(intPart)
		sb.WriteByte('.')
		sb.WriteString(digits[len(digits)-k:])
	}
	if printedExp == 0 && g.r.IntN(2) == 0 {
		return
	}
	sb.WriteString([]string{"e", "E"}[g.r.IntN(2)])
	if printedExp >= 0 && g.r.IntN(2) == 0 {
		sb.WriteByte('+')
	}
	sb.WriteString(strconv.Itoa(printedExp))
}

// writeString writes s as a JSON string, escaping characters at random with \uXXXX (upper
// or lower case hex, surrogate pairs beyond the BMP) and the short escapes.
func (g *gen) writeString(sb *strings.Builder, s string) {
	sb.WriteByte('"')
	for _, c := range s {
		short := map[rune]string{'"': `\"`, '\\': `\\`, '\n': `\n`, '\t': `\t`, '\r': `\r`, '\b': `\b`, '\f': `\f`, '/': `\/`}[c]
		mustEscape := c == '"' || c == '\\' || c < 0x20
		switch {
		case short != "" && (mustEscape || g.r.IntN(2) == 0) && g.r.IntN(3) > 0:
			sb.WriteString(short)
		case mustEscape || g.r.IntN(5) == 0:
			units := []uint16{uint16(c)}
			if c > 0xFFFF {
				r1, r2 := utf16.EncodeRune(c)
				units = []uint16{uint16(r1), uint16(r2)}
			}
			for _, u := range units {
				h := fmt.Sprintf("%04x", u)
				if g.r.IntN(2) == 0 {
					h = strings.ToUpper(h)
				}
				sb.WriteString(`\u` + h)
			}
		default:
			sb.WriteRune(c)
		}
	}
	sb.WriteByte('"')
}

// mutate changes one random place of a deep copy of obj so that its identity must
// change, and says what it did.
func (g *gen) mutate(obj map[string]any) (map[string]any, string) {
	out := deepCopy(obj).(map[string]any)
	type site struct {
		what  string
		apply func()
	}
	var sites []site
	var walk func(v any, path string, set func(any))
	walk = func(v any, path string, set func(any)) {
		switch t := v.(type) {
		case map[string]any:
			sites = append(sites, site{"add a key to " + path, func() {
				k := g.str(6)
				for _, taken := t[k]; taken; _, taken = t[k] {
					k += "+"
				}
				t[k] = nonNull(g.value(g.maxDepth))
			}})
			for _, k := range slices.Sorted(maps.Keys(t)) {
				e := t[k]
				if e == nil {
					continue // an absent key and a null member are the same
				}
				sites = append(sites, site{"remove key " + strconv.Quote(k) + " of " + path, func() { delete(t, k) }})
				walk(e, path+"/"+k, func(n any) { t[k] = n })
			}
		case []any:
			for i, e := range t {
				if e == nil {
					sites = append(sites, site{"null to value at " + path + "/" + strconv.Itoa(i), func() { t[i] = nonNull(g.value(g.maxDepth)) }})
					continue
				}
				walk(e, path+"/"+strconv.Itoa(i), func(n any) { t[i] = n })
			}
		case string:
			sites = append(sites, site{"change string at " + path, func() { set(t + string(alphabet[g.r.IntN(len(alphabet))])) }})
		case int64:
			sites = append(sites, site{"bump integer at " + path, func() {
				if t > 0 { // toward zero: stays within what a double holds exactly
					set(t - 1)
				} else {
					set(t + 1)
				}
			}})
		case float64:
			sites = append(sites, site{"bump number at " + path, func() {
				if math.Abs(t) > 1 {
					set(t / 2) // exact, finite and different
				} else {
					set(t + 1)
				}
			}})
		case bool:
			sites = append(sites, site{"flip bool at " + path, func() { set(!t) }})
		}
	}
	walk(out, "(root)", nil)
	s := sites[g.r.IntN(len(sites))]
	s.apply()
	return out, s.what
}

func nonNull(v any) any {
	if v == nil {
		return "was null"
	}
	return v
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, e := range t {
			l[i] = deepCopy(e)
		}
		return l
	default:
		return v
	}
}

func decodeText(t *testing.T, text string, useNumber bool) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(text))
	if useNumber {
		dec.UseNumber()
	}
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("generated invalid JSON: %v\n%s", err, text)
	}
	return v
}

func mustHash(t *testing.T, v any) string {
	t.Helper()
	h, err := Hash(v)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	return h
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// stopAfter ends a property test after a few reported failures.
func stopAfter(t *testing.T, failures *int) {
	t.Helper()
	if *failures++; *failures >= 5 {
		t.FailNow()
	}
}

func TestPropertyEquivalentTextSameHash(t *testing.T) {
	g := newGen(1)
	failures := 0
	for i := range propertyIterations {
		v := g.object(0)
		want := mustHash(t, v)
		text := g.variant(v)
		for _, useNumber := range []bool{true, false} {
			if got := mustHash(t, decodeText(t, text, useNumber)); got != want {
				c, _ := Canonical(v)
				t.Errorf("iteration %d (UseNumber %v): equivalent JSON hashes differently\n  value:   %s\n  variant: %s\n  canonical of value: %s",
					i, useNumber, mustJSON(t, v), text, c)
				stopAfter(t, &failures)
			}
		}
	}
}

func TestPropertyChangedValueNewHash(t *testing.T) {
	g := newGen(2)
	failures := 0
	for i := range propertyIterations {
		v := g.object(0)
		changed, what := g.mutate(v)
		before, after := mustJSON(t, v), mustJSON(t, changed)
		if mustHash(t, v) == mustHash(t, changed) {
			t.Errorf("iteration %d: %s kept the hash\n  before: %s\n  after:  %s", i, what, before, after)
			stopAfter(t, &failures)
		}
		// The change survives re-spelling of the changed value too.
		text := g.variant(changed)
		if mustHash(t, v) == mustHash(t, decodeText(t, text, true)) {
			t.Errorf("iteration %d: %s kept the hash after re-spelling\n  before: %s\n  after:  %s", i, what, before, text)
			stopAfter(t, &failures)
		}
	}
}

func (g *gen) codeInfo() CodeInfo {
	opt := func(s string) string {
		if g.r.IntN(4) == 0 {
			return ""
		}
		return s
	}
	return CodeInfo{
		URL:       "https://github.com/AllenNeuralDynamics/" + g.str(10),
		Name:      opt(g.str(10)),
		Version:   opt(strconv.Itoa(g.r.IntN(10)) + "." + strconv.Itoa(g.r.IntN(10)) + "." + g.str(3)),
		RunScript: opt("code/" + g.str(6)),
	}
}

func (g *gen) inputs() []string {
	n := 1 + g.r.IntN(6)
	var out []string
	for len(out) < n {
		u := "s3://bucket/" + g.str(12)
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// other returns a string different from s.
func (g *gen) other(s string) string {
	for {
		if o := g.str(10); o != s {
			return o
		}
	}
}

func TestPropertyCodeHash(t *testing.T) {
	g := newGen(3)
	failures := 0
	for i := range propertyIterations / 2 {
		info, params, inputs := g.codeInfo(), g.object(2), g.inputs()
		code := NewCode(info, params, inputs)
		want, err := code.Hash()
		if err != nil {
			t.Fatal(err)
		}

		shuffled := slices.Clone(inputs)
		g.r.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		if got, _ := NewCode(info, params, shuffled).Hash(); got != want {
			t.Errorf("iteration %d: input order changed the hash\n  %s\n  %s", i, mustJSON(t, code), mustJSON(t, NewCode(info, params, shuffled)))
			stopAfter(t, &failures)
		}

		type change struct {
			what string
			code Code
		}
		changes := []change{}
		for _, field := range []struct {
			name string
			p    func(*CodeInfo) *string
		}{
			{"url", func(c *CodeInfo) *string { return &c.URL }},
			{"name", func(c *CodeInfo) *string { return &c.Name }},
			{"version", func(c *CodeInfo) *string { return &c.Version }},
			{"run_script", func(c *CodeInfo) *string { return &c.RunScript }},
		} {
			ci := info
			*field.p(&ci) = g.other(*field.p(&ci))
			changes = append(changes, change{field.name, NewCode(ci, params, inputs)})
		}
		changedParams, what := g.mutate(params)
		changes = append(changes, change{"parameters: " + what, NewCode(info, changedParams, inputs)})
		j := g.r.IntN(len(inputs))
		changedInputs := slices.Clone(inputs)
		for changedInputs[j] = "s3://bucket/" + g.str(12); slices.Contains(inputs, changedInputs[j]); {
			changedInputs[j] += "x"
		}
		changes = append(changes, change{"input " + strconv.Itoa(j), NewCode(info, params, changedInputs)})
		changes = append(changes, change{"one input fewer", NewCode(info, params, slices.Delete(slices.Clone(inputs), j, j+1))})

		for _, c := range changes {
			got, err := c.code.Hash()
			if err != nil {
				t.Fatal(err)
			}
			if got == want {
				t.Errorf("iteration %d: changing %s kept the hash\n  before: %s\n  after:  %s", i, c.what, mustJSON(t, code), mustJSON(t, c.code))
				stopAfter(t, &failures)
			}
		}
	}
}

// TestPropertyGeneratorSpellsNumbersDifferently guards the generator itself: most
// variants must differ from the plain encoding, or the equivalence test proves little.
func TestPropertyGeneratorSpellsNumbersDifferently(t *testing.T) {
	g := newGen(4)
	differ, numbers := 0, 0
	for range 500 {
		f := g.float()
		var sb strings.Builder
		g.write(&sb, f)
		text := sb.String()
		numbers++
		if text != strconv.FormatFloat(f, 'g', -1, 64) {
			differ++
		}
		var got float64
		if err := json.Unmarshal([]byte(text), &got); err != nil || got != f {
			t.Fatalf("%s reads back as %v (%v), want %v", text, got, err, f)
		}
	}
	if differ < numbers/2 {
		t.Fatalf("only %d of %d numbers spelled differently", differ, numbers)
	}
}

func (g *gen) files() []string {
	n := 2 + g.r.IntN(5)
	var out []string
	for len(out) < n {
		f := "s3://bucket/asset/" + g.str(8) + ".nwb"
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

func asAny(files []string) []any {
	out := make([]any, len(files))
	for i, f := range files {
		out[i] = f
	}
	return out
}

// The job's matched files (the file_location parameter) are a set of inputs like
// input_data: their order, which comes from listing and job-file order, must not change
// the identity; a different file, or one fewer, must. The caller's list is not reordered.
func TestPropertyFileLocationOrder(t *testing.T) {
	g := newGen(5)
	failures := 0
	for i := range propertyIterations / 2 {
		info, params, inputs, files := g.codeInfo(), g.object(2), g.inputs(), g.files()
		withFiles := func(list any) map[string]any {
			p := deepCopy(params).(map[string]any)
			p[FileLocationKey] = list
			return p
		}
		code := NewCode(info, withFiles(asAny(files)), inputs)
		want, err := code.Hash()
		if err != nil {
			t.Fatal(err)
		}
		shuffled := slices.Clone(files)
		for slices.Equal(shuffled, files) {
			g.r.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		}
		given := asAny(shuffled)
		for _, list := range []any{given, shuffled} {
			other := NewCode(info, withFiles(list), inputs)
			if got, _ := other.Hash(); got != want {
				t.Errorf("iteration %d: file order (%T) changed the hash\n  %s\n  %s", i, list, mustJSON(t, code), mustJSON(t, other))
				stopAfter(t, &failures)
			}
		}
		if !slices.Equal(given, asAny(shuffled)) {
			t.Fatalf("iteration %d: NewCode reordered the caller's list", i)
		}
		j := g.r.IntN(len(files))
		changed := slices.Clone(files)
		changed[j] += "x"
		for what, list := range map[string][]string{"one file changed": changed, "one file fewer": slices.Delete(slices.Clone(files), j, j+1)} {
			if got, _ := NewCode(info, withFiles(asAny(list)), inputs).Hash(); got == want {
				t.Errorf("iteration %d: %s kept the hash", i, what)
				stopAfter(t, &failures)
			}
		}
	}
}
