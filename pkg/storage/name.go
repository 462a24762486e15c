package storage

import (
	"fmt"
	"strings"
)

// CheckName checks that name, taken from data (a record's _id, a manifest entry, a job
// file, a listed folder), is safe as one component of a local path: not empty, not "."
// or "..", and without "/", "\" or NUL. Joined to a folder, such a name stays inside it.
// The error says what is wrong; callers name the record or file and field it came from.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty name")
	case name == "." || name == "..":
		return fmt.Errorf("%q is not a name: it would leave the folder", name)
	case strings.ContainsAny(name, "/\\\x00"):
		return fmt.Errorf("%q is not a single name (it holds a path separator or NUL)", name)
	}
	return nil
}

// CheckRelPath checks that p, a slash-separated relative path taken from data (a manifest
// entry), stays inside the folder it is joined to: every component passes CheckName, so
// it has no empty, "." or ".." component and is not absolute.
func CheckRelPath(p string) error {
	if p == "" {
		return fmt.Errorf("empty path")
	}
	for _, c := range strings.Split(p, "/") {
		if err := CheckName(c); err != nil {
			return fmt.Errorf("path %q: %w", p, err)
		}
	}
	return nil
}
