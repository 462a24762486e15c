package identity

import (
	"encoding/json"
	"testing"
)

func mustHashJSON(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad test json %q: %v", s, err)
	}
	h, err := Hash(v)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashSameIdentity(t *testing.T) {
	tests := []struct {
		name string
		a, b string
	}{
		{"key order", `{"a":1,"b":{"x":1,"y":2}}`, `{"b":{"y":2,"x":1},"a":1}`},
		{"integer vs float form", `{"cutoff":2}`, `{"cutoff":2.0}`},
		{"exponent form", `{"cutoff":0.05}`, `{"cutoff":5e-2}`},
		{"null field dropped", `{"a":1,"added_in_v2":null}`, `{"a":1}`},
		{"nested null dropped", `{"p":{"a":1,"b":null}}`, `{"p":{"a":1}}`},
		{"null inside nested list object", `{"l":[{"a":1,"b":null}]}`, `{"l":[{"a":1}]}`},
		{"white space", `{ "a" : [ 1 , 2 ] }`, `{"a":[1,2]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ha, hb := mustHashJSON(t, tt.a), mustHashJSON(t, tt.b); ha != hb {
				t.Fatalf("%s and %s hash differently: %s vs %s", tt.a, tt.b, ha, hb)
			}
		})
	}
}

func TestHashDifferentIdentity(t *testing.T) {
	tests := []struct {
		name string
		a, b string
	}{
		{"value changed", `{"cutoff":0.05}`, `{"cutoff":0.5}`},
		{"string vs number", `{"cutoff":"2"}`, `{"cutoff":2}`},
		{"nested value", `{"p":{"a":1}}`, `{"p":{"a":2}}`},
		{"list order is data", `{"l":[1,2]}`, `{"l":[2,1]}`},
		{"null in list is data", `{"l":[1,null]}`, `{"l":[1]}`},
		{"false is not null", `{"a":false}`, `{}`},
		{"empty string is not absent", `{"a":""}`, `{}`},
		{"key renamed", `{"a":1}`, `{"b":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ha, hb := mustHashJSON(t, tt.a), mustHashJSON(t, tt.b); ha == hb {
				t.Fatalf("%s and %s share identity %s", tt.a, tt.b, ha)
			}
		})
	}
}

func TestCanonicalForm(t *testing.T) {
	var v any
	if err := json.Unmarshal([]byte(`{"b":2.50,"a":[1.0,null,{"z":null,"y":"s"}],"c":null}`), &v); err != nil {
		t.Fatal(err)
	}
	got, err := Canonical(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":[1,null,{"y":"s"}],"b":2.5}`
	if string(got) != want {
		t.Fatalf("Canonical = %s, want %s", got, want)
	}
}

func TestHashIsSHA256Hex(t *testing.T) {
	// sha256 of `{}` (the canonical form of an empty object).
	const want = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
	if got := mustHashJSON(t, `{"only_null":null}`); got != want {
		t.Fatalf("Hash = %s, want %s", got, want)
	}
}

func TestCodeHash(t *testing.T) {
	info := CodeInfo{URL: "https://github.com/org/analysis", Name: "analysis", Version: "1.2.0", RunScript: "code/run"}
	base := func() Code {
		return NewCode(info, map[string]any{"cutoff": 0.05, "method": "a"}, []string{"s3://b/x", "s3://b/y"})
	}
	h0, err := base().Hash()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("input order does not matter", func(t *testing.T) {
		c := NewCode(info, map[string]any{"method": "a", "cutoff": 0.05}, []string{"s3://b/y", "s3://b/x"})
		if h, _ := c.Hash(); h != h0 {
			t.Fatalf("reordered inputs changed identity")
		}
	})
	changes := map[string]func(*Code){
		"parameter":  func(c *Code) { c.Parameters["cutoff"] = 0.5 },
		"new param":  func(c *Code) { c.Parameters["extra"] = true },
		"input":      func(c *Code) { c.InputData[0].URL = "s3://b/z" },
		"version":    func(c *Code) { c.Version = "1.2.1" },
		"url":        func(c *Code) { c.URL = "https://github.com/org/other" },
		"run script": func(c *Code) { c.RunScript = "code/run2" },
		"name":       func(c *Code) { c.Name = "renamed" },
	}
	for name, change := range changes {
		t.Run(name+" changes identity", func(t *testing.T) {
			c := base()
			change(&c)
			if h, _ := c.Hash(); h == h0 {
				t.Fatalf("changing %s kept identity %s", name, h0)
			}
		})
	}
	t.Run("object types are set", func(t *testing.T) {
		c := base()
		if c.ObjectType != "Code" || c.InputData[0].ObjectType != "Data asset" {
			t.Fatalf("object types: %q %q", c.ObjectType, c.InputData[0].ObjectType)
		}
	})
}
