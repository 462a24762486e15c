package identity

import (
	"strings"
)

// DefaultRunScript is the run script recorded when none is given (the Code Ocean layout).
const DefaultRunScript = "code/run"

// CodeFlags say which analysis code runs. The dispatcher and the wrapper embed the same
// flags and resolve them with the same function, so they compute the same identity.
type CodeFlags struct {
	CodeURL             string `name:"code-url" aliases:"code_url" env:"AIND_CODE_URL" help:"URL of the analysis code (default from CO_CAPSULE_ID on Code Ocean)."`
	CodeName            string `name:"code-name" aliases:"code_name" env:"AIND_CODE_NAME" help:"Name of the analysis code."`
	CodeVersion         string `name:"code-version" aliases:"code_version" env:"AIND_CODE_VERSION" help:"Version of the analysis code."`
	ReleaseVersion      string `name:"release-version" aliases:"release_version" env:"AIND_RELEASE_VERSION" help:"Latest release of the code; with --commits_since_release, used unless a non-patch commit follows it."`
	CommitsSinceRelease string `name:"commits-since-release" aliases:"commits_since_release" env:"AIND_COMMITS_SINCE_RELEASE" help:"Commits since the release, newest first (comma or space separated)."`
	PatchCommits        string `name:"patch-commits" aliases:"patch_commits" env:"PATCH_COMMITS" help:"Commits that do not count as changes (comma or space separated)."`
	ImageRevision       string `name:"image-revision" aliases:"image_revision" env:"AIND_IMAGE_REVISION" help:"The container image's revision label, the version of last resort."`
	RunScript           string `name:"run-script" aliases:"run_script" env:"AIND_RUN_SCRIPT" default:"code/run" help:"Script that runs the analysis."`
	CapsuleID           string `name:"capsule-id" aliases:"capsule_id" env:"CO_CAPSULE_ID" help:"Code Ocean capsule id (gives the default code URL)."`
	CodeOceanDomain     string `name:"codeocean-domain" aliases:"codeocean_domain" env:"CODEOCEAN_DOMAIN" default:"codeocean.allenneuraldynamics.org" help:"Code Ocean domain."`
}

func words(s string) []string {
	return strings.Fields(strings.ReplaceAll(s, ",", " "))
}

// Resolve returns the code identity, a note for the record (the commit when the version
// is one), and whether any code identity is known (a URL). The code's name is --code-name,
// else NameFromURL of the URL: never the analysis command (which the dispatcher cannot
// know), so the dispatcher and the wrapper name the code alike.
func (f CodeFlags) Resolve() (CodeInfo, string, bool) {
	url := f.CodeURL
	if url == "" && f.CapsuleID != "" {
		url = "https://" + f.CodeOceanDomain + "/capsule/" + f.CapsuleID
	}
	version, note := ResolveVersion(VersionSources{
		Release:       f.ReleaseVersion,
		Commits:       words(f.CommitsSinceRelease),
		PatchCommits:  words(f.PatchCommits),
		Explicit:      f.CodeVersion,
		ImageRevision: f.ImageRevision,
	})
	run := f.RunScript
	if run == "" {
		run = DefaultRunScript
	}
	name := strings.TrimSpace(f.CodeName)
	if name == "" {
		name = NameFromURL(url)
	}
	info := CodeInfo{URL: url, Name: name, Version: version, RunScript: run}
	return info, note, url != ""
}

// NameFromURL derives a code name from its URL: the last non-empty path segment, without
// a query, a fragment or a ".git" suffix ("https://github.com/org/my-analysis.git" gives
// "my-analysis"); "" for "".
func NameFromURL(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	segments := strings.FieldsFunc(u, func(r rune) bool { return r == '/' })
	if len(segments) == 0 {
		return ""
	}
	return strings.TrimSuffix(segments[len(segments)-1], ".git")
}
