package identity

import "testing"

func TestHashUpstreamCode(t *testing.T) {
	ours, _ := NewCode(CodeInfo{URL: "https://x/a", Name: "a", Version: "1.2", RunScript: "code/run"},
		map[string]any{"cutoff": 0.5, "file_location": []any{"s3://b/2.nwb", "s3://b/1.nwb"}}, []string{"s3://b/y", "s3://b/x"}).Hash()
	// As pydantic dumps aind-data-schema's Code: its field order, nulls, inputs in job order.
	const upstream = `{"object_type":"Code","url":"https://x/a","name":"a","version":"1.2","commit_hash":null,"container":null,` +
		`"run_script":"code/run","language":null,"language_version":null,"input_data":[{"object_type":"Data asset","url":"s3://b/x"},` +
		`{"object_type":"Data asset","url":"s3://b/y"}],"parameters":{"file_location":["s3://b/1.nwb","s3://b/2.nwb"],"cutoff":0.5},"core_dependency":null}`
	tests := []struct {
		name     string
		raw      string
		wantOK   bool
		wantSame bool
	}{
		{"same work, upstream's order and nulls", upstream, true, true},
		{"another parameter value", replace(upstream, `"cutoff":0.5`, `"cutoff":0.6`), true, false},
		{"another version", replace(upstream, `"version":"1.2"`, `"version":"1.3"`), true, false},
		{"a commit hash we cannot reproduce", replace(upstream, `"commit_hash":null`, `"commit_hash":"abc"`), false, false},
		{"a combined-data input", replace(upstream, `"object_type":"Data asset","url":"s3://b/x"`, `"object_type":"Combined data","url":"s3://b/x"`), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, ok, err := HashUpstreamCode([]byte(tt.raw))
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.wantOK || (h == ours) != tt.wantSame {
				t.Errorf("HashUpstreamCode = %s, %v; want ok=%v, same as ours (%s)=%v", h, ok, tt.wantOK, ours, tt.wantSame)
			}
		})
	}
}

func replace(s, old, new string) string {
	out := ""
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return out + new + s[i+len(old):]
		}
		out += string(s[i])
	}
	panic("replace: " + old + " not found")
}
