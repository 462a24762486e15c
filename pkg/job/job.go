// Package job owns the job file: the JSON unit of work the dispatcher writes and the
// wrapper reads (the upstream AnalysisDispatchModel), its deterministic file name, and
// reading a job_dict folder. It reads the legacy shape (asset_id instead of
// docdb_record_id) and always writes the current one.
package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/params"
)

// Job is one unit of work: one asset, or a group of assets (every list has one entry per
// asset, in the same order), optionally with the matched files and this job's slice of a
// parameter sweep. Field names and null-ness match the upstream job files.
type Job struct {
	// S3Location holds the asset locations (s3://bucket/prefix). Required.
	S3Location []string `json:"s3_location"`
	// AssetName holds the asset names, one per location.
	AssetName []string `json:"asset_name"`
	// DocDBRecordID holds the DocDB _id of each asset record. Older files call it asset_id.
	DocDBRecordID []string `json:"docdb_record_id"`
	// FileLocation holds full s3:// paths of matched files, or is null without discovery.
	FileLocation []string `json:"file_location"`
	// DistributedParameters is this job's slice of a parameter sweep, or null.
	DistributedParameters map[string]any `json:"distributed_parameters"`
	// GroupMetadata holds, for grouped jobs, the values of the group-by fields (keys are the
	// field paths with "." replaced by "__"), or null.
	GroupMetadata map[string]any `json:"group_metadata"`
	// Query is the DocDB query (JSON text) that selected the job's assets, or null.
	Query *string `json:"query"`
	// AnalysisCode is the processing Code block computed at dispatch time, or null when
	// the dispatcher was not told which code will run.
	AnalysisCode *identity.Code `json:"analysis_code"`
}

// legacy is the on-disk shape accepted on read: the current fields plus asset_id.
type legacy struct {
	Job
	AssetID []string `json:"asset_id"`
}

// Parse decodes a job file's content. name is used in error messages (the file path).
// Errors are usage errors that name the file and the field.
func Parse(data []byte, name string) (Job, error) {
	var l legacy
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&l); err != nil {
		return Job{}, fault.Usagef("job file %s: %w", name, describeJSONError(err))
	}
	j := l.Job
	if len(j.DocDBRecordID) == 0 && len(l.AssetID) > 0 {
		j.DocDBRecordID = l.AssetID
	}
	if err := j.Validate(); err != nil {
		return Job{}, fault.Usagef("job file %s: %w", name, err)
	}
	return j, nil
}

func describeJSONError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		field := strings.TrimPrefix(te.Field, "Job.")
		return fmt.Errorf("field %q: expected %s, found JSON %s", field, te.Type, te.Value)
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

// Validate checks the invariants every reader relies on: at least one location, no empty
// location, and per-asset lists as long as s3_location.
func (j Job) Validate() error {
	if len(j.S3Location) == 0 {
		return errors.New(`field "s3_location": required, at least one asset location`)
	}
	for i, s := range j.S3Location {
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf(`field "s3_location"[%d]: empty location`, i)
		}
	}
	if len(j.DocDBRecordID) == 0 {
		return errors.New(`field "docdb_record_id" (or legacy "asset_id"): required`)
	}
	for field, l := range map[string]int{"docdb_record_id": len(j.DocDBRecordID), "asset_name": len(j.AssetName)} {
		if l != 0 && l != len(j.S3Location) {
			return fmt.Errorf("field %q: has %d entries, s3_location has %d", field, l, len(j.S3Location))
		}
	}
	return nil
}

// Marshal returns the job file content: indented JSON, every field present (null when
// unset), keys in a fixed order, so that equal jobs give equal bytes.
func (j Job) Marshal() ([]byte, error) {
	_, data, err := j.Encode()
	return data, err
}

// FileName returns the job's deterministic file name, "job_<first 20 hex of
// identity.Hash of the job>.json": the same job always gets the same name, so Nextflow
// -resume finds its cached tasks.
func (j Job) FileName() (string, error) {
	name, _, err := j.Encode()
	return name, err
}

// Encode returns FileName and Marshal's content at once, encoding the job once for both
// (the dispatcher does this for every job it writes).
func (j Job) Encode() (name string, data []byte, err error) {
	raw, err := json.Marshal(j)
	if err != nil {
		return "", nil, fmt.Errorf("encoding job: %w", err)
	}
	h, err := identity.HashJSON(raw)
	if err != nil {
		return "", nil, fmt.Errorf("hashing job: %w", err)
	}
	var b bytes.Buffer
	b.Grow(len(raw) + len(raw)/2)
	if err := json.Indent(&b, raw, "", "    "); err != nil {
		return "", nil, fmt.Errorf("encoding job: %w", err)
	}
	b.WriteByte('\n')
	return "job_" + h[:20] + ".json", b.Bytes(), nil
}

// Stem returns a job file's name without its directory and .json extension: the name the
// wrapper uses for per-job markers such as skip_<stem>.
func Stem(path string) string {
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}

// Code returns the processing Code block of this job for the given code and merged
// parameters: inputs are the job's asset locations and, as upstream, the job's matched
// files are tracked as the "file_location" parameter. params is copied, not changed.
func (j Job) Code(info identity.CodeInfo, params map[string]any) identity.Code {
	p := make(map[string]any, len(params)+1)
	for k, v := range params {
		p[k] = v
	}
	if len(j.FileLocation) > 0 {
		files := make([]any, len(j.FileLocation))
		for i, f := range j.FileLocation {
			files[i] = f
		}
		p[identity.FileLocationKey] = files
	}
	return identity.NewCode(info, p, j.S3Location)
}

// Inputs are everything besides the job file that enters a job's identity. Each is a
// pipeline param that both the dispatcher and the wrapper receive, so they build the same
// Inputs and get the same identity.
type Inputs struct {
	// Code is the analysis code (identity.CodeFlags.Resolve).
	Code identity.CodeInfo
	// Parameters is analysis_parameters.json.
	Parameters params.File
	// Overrides are the command-line parameter overrides (params.Flags.Overrides).
	Overrides map[string]any
	// Schema is the analysis' parameter schema, whose defaults fill absent keys; nil for none.
	Schema *params.Schema
}

// Resolved is a job's identity and the parameters it runs with.
type Resolved struct {
	// Code is the processing Code block; Hash is its identity.
	Code identity.Code
	Hash string
	// Parameters are the merged parameters with schema defaults filled (without the job's
	// files): what the analysis runs with and what the schema validates.
	Parameters map[string]any
	// Overridden and Filled are for the log: values a later layer replaced, and the keys
	// the schema's defaults filled.
	Overridden []params.Override
	Filled     []string
}

// Identity is the one function computing a job's identity, called by the dispatcher (to
// skip work already done) and by the wrapper (to name and record results). Parameters
// merge fixed < command line < the job's distributed_parameters, then the schema's
// defaults fill absent keys (params.Resolve); the job's assets and files and the code
// complete the Code block (Job.Code), which identity.NewCode normalises.
func (j Job) Identity(in Inputs) (Resolved, error) {
	layers := append(in.Parameters.Layers(),
		params.Layer{Source: "command line", Values: in.Overrides},
		params.Layer{Source: "job distributed_parameters", Values: j.DistributedParameters})
	merged, overridden, filled := params.Resolve(in.Schema, layers...)
	code := j.Code(in.Code, merged)
	hash, err := code.Hash()
	if err != nil {
		return Resolved{}, err
	}
	return Resolved{Code: code, Hash: hash, Parameters: merged, Overridden: overridden, Filled: filled}, nil
}

// File is a job read from a job_dict folder.
type File struct {
	// Path is the job file's path.
	Path string
	// Job is its parsed content.
	Job Job
}

// The placeholder file the dispatcher writes instead of job folders when it dispatches
// nothing: its name, and the text it starts with.
const (
	NoJobsFile = "NO_JOBS.txt"
	NoJobsNote = "aind-dispatch wrote no job"
)

// ReadDir reads every *.json file in dir, sorted by name. Other files (such as the
// dispatcher's NO_JOBS.txt placeholder) are ignored, and dir may be that placeholder itself
// (no jobs). Any bad job file is an error naming it.
func ReadDir(dir string) ([]File, error) {
	if st, err := os.Stat(dir); err == nil && st.Mode().IsRegular() {
		// A pipeline that stages each dispatcher output as the job folder (Code Ocean's
		// generated pipeline does) hands an empty dispatch's placeholder over as the folder.
		if b, err := os.ReadFile(dir); err == nil && strings.HasPrefix(string(b), NoJobsNote) {
			return nil, nil
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fault.Usagef("reading job folder: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.EqualFold(filepath.Ext(e.Name()), ".json") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	files := make([]File, 0, len(names))
	for _, n := range names {
		p := filepath.Join(dir, n)
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fault.Usagef("reading job file: %w", err)
		}
		j, err := Parse(data, p)
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: p, Job: j})
	}
	return files, nil
}
