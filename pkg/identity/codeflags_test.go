package identity

import (
	"testing"
)

func TestCodeFlagsResolve(t *testing.T) {
	tests := []struct {
		name  string
		flags CodeFlags
		want  CodeInfo
		known bool
		note  bool
	}{
		{"nothing given", CodeFlags{}, CodeInfo{RunScript: "code/run"}, false, false},
		{"explicit", CodeFlags{CodeURL: "https://x/a", CodeName: "a", CodeVersion: "1.0", RunScript: "run.sh"},
			CodeInfo{URL: "https://x/a", Name: "a", Version: "1.0", RunScript: "run.sh"}, true, false},
		{"Code Ocean capsule gives the URL", CodeFlags{CapsuleID: "abc", CodeOceanDomain: "co.example.org", CodeVersion: "2"},
			CodeInfo{URL: "https://co.example.org/capsule/abc", Name: "abc", Version: "2", RunScript: "code/run"}, true, false},
		{"only patch commits since the release", CodeFlags{CodeURL: "u", ReleaseVersion: "v1.4.0", CommitsSinceRelease: "c2, c1", PatchCommits: "c1 c2"},
			CodeInfo{URL: "u", Name: "u", Version: "v1.4.0", RunScript: "code/run"}, true, false},
		{"a real change since the release", CodeFlags{CodeURL: "u", ReleaseVersion: "v1.4.0", CommitsSinceRelease: "c3,c2,c1", PatchCommits: "c1,c2"},
			CodeInfo{URL: "u", Name: "u", Version: "c3", RunScript: "code/run"}, true, true},
		{"image revision as last resort", CodeFlags{CodeURL: "u", ImageRevision: "deadbeef"},
			CodeInfo{URL: "u", Name: "u", Version: "deadbeef", RunScript: "code/run"}, true, false},
		// The name is --code_name, else the URL's last path segment: never the command.
		{"name from a repository URL", CodeFlags{CodeURL: "https://github.com/org/my-analysis.git", CodeVersion: "1"},
			CodeInfo{URL: "https://github.com/org/my-analysis.git", Name: "my-analysis", Version: "1", RunScript: "code/run"}, true, false},
		{"name from a folder URL", CodeFlags{CodeURL: "https://github.com/org/repo/tree/main/analyses/count/", CodeVersion: "1"},
			CodeInfo{URL: "https://github.com/org/repo/tree/main/analyses/count/", Name: "count", Version: "1", RunScript: "code/run"}, true, false},
		{"name from a URL with a query", CodeFlags{CodeURL: "https://example.org/a/b?ref=x#y"},
			CodeInfo{URL: "https://example.org/a/b?ref=x#y", Name: "b", RunScript: "code/run"}, true, false},
		{"name given wins", CodeFlags{CodeURL: "https://github.com/org/repo", CodeName: "given"},
			CodeInfo{URL: "https://github.com/org/repo", Name: "given", RunScript: "code/run"}, true, false},
		{"no URL, no name", CodeFlags{CodeVersion: "1"}, CodeInfo{Version: "1", RunScript: "code/run"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, note, known := tt.flags.Resolve()
			if got != tt.want || known != tt.known || (note != "") != tt.note {
				t.Fatalf("Resolve() = %+v, %q, %v; want %+v, note %v, known %v", got, note, known, tt.want, tt.note, tt.known)
			}
		})
	}
}
