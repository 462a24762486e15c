// Package result is one analysis result as stored: the files and folders the wrapper
// leaves and aind-results reads, and the publish protocol's steps on the store.
//
// Layout. A wrapper run's output folder holds, per job, a result folder named by the job's
// identity hash:
//
//	<output>/<hash>/           the job's files, as the analysis wrote them, and
//	    outputs.json           its output values (OutputsFile)
//	    metadata.nd.json       the record of what ran, on what, when (MetadataFile)
//	    analysis.log           the analysis' log (LogFile)
//	    error.txt              why it failed, with the log's last lines (ErrorFile; failed jobs)
//	    manifest.json          every other file's path, size and SHA-256 (ManifestFile;
//	                           published results)
//	<output>/skip_<job>        a Marker: the job was skipped (SkipPrefix)
//	<output>/failed_<job>      a Marker: the job failed (FailedPrefix)
//
// A published result is <bucket>/<hash>/ with the same files and manifest.json, and its
// Record (metadata.nd.json's document with _id = hash) in DocDB.
//
// Publishing (Publisher) keeps the protocol's promises on the store: a reader trusts a
// result only when its record exists; the record is written only after every file and the
// manifest are uploaded and verified; and nothing under a prefix whose record exists is
// deleted or overwritten. Claiming the job is the caller's: it supplies a Fence that
// confirms the claim is still held and no record exists, and Publisher calls it before
// every delete and before writing the record.
package result

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// File names in a result folder.
const (
	MetadataFile = "metadata.nd.json"
	OutputsFile  = "outputs.json"
	LogFile      = "analysis.log"
	ErrorFile    = "error.txt"
	// ManifestFile is uploaded last: its presence under a prefix means every file it
	// names was uploaded.
	ManifestFile = "manifest.json"
)

// SkipPrefix and FailedPrefix start the per-job markers in a run's output folder:
// skip_<job> and failed_<job>, where <job> is the job file's stem.
const (
	SkipPrefix   = "skip_"
	FailedPrefix = "failed_"
)

// SkipMarker is the file name of job's skip marker (job: the job file's stem).
func SkipMarker(job string) string { return SkipPrefix + job }

// FailedMarker is the file name of job's failed marker (job: the job file's stem).
func FailedMarker(job string) string { return FailedPrefix + job }

// ParseMarker reports whether name is a marker's file name and, if so, the job's stem and
// whether it marks a failure (false: a skip).
func ParseMarker(name string) (job string, failed, ok bool) {
	if job, ok := strings.CutPrefix(name, FailedPrefix); ok {
		return job, true, true
	}
	if job, ok := strings.CutPrefix(name, SkipPrefix); ok {
		return job, false, true
	}
	return "", false, false
}

// Marker is the content of a skip_ or failed_ marker: enough for a report to say what
// happened to a job without reading logs. Job is the job file's stem; Hash its identity,
// when it got that far; Status its outcome ("skipped", "failed"); Reason why, in one line;
// Time when the marker was written (RFC 3339, UTC).
type Marker struct {
	Job    string `json:"job"`
	Hash   string `json:"hash,omitempty"`
	Status string `json:"status"`
	Reason string `json:"reason"`
	Time   string `json:"time"`
}

// WriteJSON writes v to path the way every JSON file of a result folder is written:
// indented, ending in a newline, and atomically (a temporary file renamed into place), so
// a reader never sees half a file. Errors name the file.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", filepath.Base(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
