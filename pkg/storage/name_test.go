package storage

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckNameAndRelPath(t *testing.T) {
	tests := []struct {
		in        string
		name, rel bool // accepted as a name, as a relative path
	}{
		{"abc123", true, true},
		{"a.b..c", true, true},
		{"...", true, true},
		{"sub/b.txt", false, true},
		{"", false, false},
		{".", false, false},
		{"..", false, false},
		{"../x", false, false},
		{"../../x", false, false},
		{"a/../../x", false, false},
		{"/etc/passwd", false, false},
		{"a//b", false, false},
		{"a/./b", false, false},
		{"a/", false, false},
		{`..\x`, false, false},
		{"a\x00b", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if err := CheckName(tt.in); (err == nil) != tt.name {
				t.Errorf("CheckName(%q) = %v, want accepted %v", tt.in, err, tt.name)
			}
			err := CheckRelPath(tt.in)
			if (err == nil) != tt.rel {
				t.Errorf("CheckRelPath(%q) = %v, want accepted %v", tt.in, err, tt.rel)
			}
			if err == nil {
				// What is accepted stays inside the folder.
				if j := filepath.Join("/dest", filepath.FromSlash(tt.in)); !strings.HasPrefix(j, "/dest/") {
					t.Errorf("%q joined to /dest is %s", tt.in, j)
				}
			}
		})
	}
}
