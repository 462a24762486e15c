package identity

import (
	"time"
)

// Object type strings of the aind-data-schema v2 records the wrapper writes.
const (
	ObjectTypeMetadata    = "Metadata"
	ObjectTypeProcessing  = "Processing"
	ObjectTypeDataProcess = "Data process"
	// ProcessTypeAnalysis is the process_type and stage of an analysis data process.
	ProcessTypeAnalysis = "Analysis"
)

// Metadata is the aind-data-schema v2 Metadata record of one analysis result: the
// metadata.nd.json file in the result folder and, with _id = Name, the DocDB record.
type Metadata struct {
	ObjectType string     `json:"object_type"`
	Name       string     `json:"name"`
	Location   string     `json:"location"`
	Created    string     `json:"created"`
	Processing Processing `json:"processing"`
}

// Processing is aind-data-schema v2's Processing: the data processes that made a result.
type Processing struct {
	ObjectType    string        `json:"object_type"`
	DataProcesses []DataProcess `json:"data_processes"`
	// Pipelines holds the pipeline's own Code block when the analysis ran in one.
	Pipelines []Code `json:"pipelines,omitempty"`
}

// DataProcess is aind-data-schema v2's "Data process": one analysis run.
type DataProcess struct {
	ObjectType  string `json:"object_type"`
	ProcessType string `json:"process_type"`
	// Name names the process: the code's name, as upstream names it after its capsule.
	// aind-data-schema requires a name or notes on an "Analysis" process.
	Name             string         `json:"name,omitempty"`
	Stage            string         `json:"stage"`
	Code             Code           `json:"code"`
	Experimenters    []string       `json:"experimenters"`
	PipelineName     string         `json:"pipeline_name,omitempty"`
	StartDateTime    string         `json:"start_date_time"`
	EndDateTime      string         `json:"end_date_time"`
	OutputPath       string         `json:"output_path,omitempty"`
	OutputParameters map[string]any `json:"output_parameters"`
	Notes            string         `json:"notes,omitempty"`
}

// Run describes one analysis run for NewMetadata.
type Run struct {
	Code          Code
	Hash          string // Code.Hash()
	Location      string // where the result lives, s3://bucket/prefix/<hash>
	Experimenters []string
	Start, End    time.Time
	Outputs       map[string]any
	Notes         string
	// PipelineName and Pipeline are set when the analysis ran in a pipeline.
	PipelineName string
	Pipeline     *Code
}

// Timestamp formats t as the records do: RFC 3339 with the zone offset.
func Timestamp(t time.Time) string { return t.Format(time.RFC3339Nano) }

// NewMetadata builds the record of a run: name = hash, location, one Processing with one
// Analysis data process.
func NewMetadata(r Run) Metadata {
	if r.Experimenters == nil {
		r.Experimenters = []string{}
	}
	if r.Outputs == nil {
		r.Outputs = map[string]any{}
	}
	dp := DataProcess{
		ObjectType:       ObjectTypeDataProcess,
		ProcessType:      ProcessTypeAnalysis,
		Name:             processName(r.Code),
		Stage:            ProcessTypeAnalysis,
		Code:             r.Code,
		Experimenters:    r.Experimenters,
		PipelineName:     r.PipelineName,
		StartDateTime:    Timestamp(r.Start),
		EndDateTime:      Timestamp(r.End),
		OutputPath:       r.Location,
		OutputParameters: r.Outputs,
		Notes:            r.Notes,
	}
	p := Processing{ObjectType: ObjectTypeProcessing, DataProcesses: []DataProcess{dp}}
	if r.Pipeline != nil {
		p.Pipelines = []Code{*r.Pipeline}
	}
	return Metadata{ObjectType: ObjectTypeMetadata, Name: r.Hash, Location: r.Location, Created: Timestamp(r.End), Processing: p}
}

// processName is the data process's name: the code's name, else its URL (both are set by
// cli.CodeFlags.Resolve), else "analysis", so an Analysis process is never unnamed.
func processName(c Code) string {
	switch {
	case c.Name != "":
		return c.Name
	case c.URL != "":
		return c.URL
	default:
		return ProcessTypeAnalysis
	}
}

// VersionSources are the places a code version can come from, in the order they are used.
type VersionSources struct {
	// Release is the latest release version (e.g. v1.4.0).
	Release string
	// Commits are the commits since that release, newest first.
	Commits []string
	// PatchCommits are commits that do not count as changes (PATCH_COMMITS).
	PatchCommits []string
	// Explicit is a version given as such.
	Explicit string
	// ImageRevision is the container image's revision label.
	ImageRevision string
}

// ResolveVersion picks the code version: with a commit list, the release if every commit
// since it is a patch commit, else the newest commit (and a note naming it); otherwise the
// explicit version, then the release, then the image revision. "" when nothing is known.
func ResolveVersion(v VersionSources) (version, note string) {
	if len(v.Commits) > 0 {
		patch := make(map[string]bool, len(v.PatchCommits))
		for _, c := range v.PatchCommits {
			patch[c] = true
		}
		for _, c := range v.Commits {
			if !patch[c] {
				return v.Commits[0], "Git commit hash: " + v.Commits[0]
			}
		}
		if v.Release != "" {
			return v.Release, ""
		}
		return v.Commits[0], "Git commit hash: " + v.Commits[0]
	}
	switch {
	case v.Explicit != "":
		return v.Explicit, ""
	case v.Release != "":
		return v.Release, ""
	default:
		return v.ImageRevision, ""
	}
}
