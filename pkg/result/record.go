package result

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/storage"
)

// Record is one result record: the wrapper's Metadata (metadata.nd.json) with its DocDB
// _id, the result's hash.
type Record struct {
	ID string `json:"_id"`
	identity.Metadata
}

// Document is the record the wrapper writes for the result hash: meta as a DocDB document
// with _id = hash first, numbers kept as numbers. It fails only if meta cannot be encoded.
func Document(hash string, meta identity.Metadata) (bson.D, error) {
	b, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("encoding the record of %s: %w", hash, err)
	}
	var doc bson.D
	if err := bson.UnmarshalExtJSON(b, false, &doc); err != nil {
		return nil, fmt.Errorf("encoding the record of %s: %w", hash, err)
	}
	return append(bson.D{{Key: "_id", Value: hash}}, doc...), nil
}

// CheckManifest checks that m, the manifest.json of the result at location, is the
// manifest of the job hash and lists its metadata.nd.json (what says which job it is).
// Otherwise a permanent error naming the file and the field, such as
// "s3://b/h/manifest.json: hash is "other", not h".
func CheckManifest(location storage.URL, hash string, m Manifest) error {
	u := location.Join(ManifestFile)
	if m.Hash != hash {
		return fault.Permanent(fmt.Errorf("%s: hash is %q, not %s", u, m.Hash, hash))
	}
	for _, e := range m.Files {
		if e.Path == MetadataFile {
			return nil
		}
	}
	return fault.Permanent(fmt.Errorf("%s lists no %s: nothing says which job this is", u, MetadataFile))
}

// CheckMetadata checks that meta, the metadata.nd.json of the result at location, describes
// the job whose identity is hash, so that a result found under <hash>/ is recorded or read
// as that job's only when it is: its analysis' Code block
// (processing.data_processes[0].code) has the identity hash, computed by Code.Hash, the
// function that named the job (the wrapper writes the job's own Code block there); its
// name is hash; and its location is location. Any other is a permanent error naming the
// file and the field, such as "s3://b/h/metadata.nd.json describes job <other>, not h".
func CheckMetadata(location storage.URL, hash string, meta identity.Metadata) error {
	u := location.Join(MetadataFile)
	if len(meta.Processing.DataProcesses) == 0 {
		return fault.Permanent(fmt.Errorf("%s describes no job (processing.data_processes is empty), not %s", u, hash))
	}
	got, err := meta.Processing.DataProcesses[0].Code.Hash()
	if err != nil {
		return fault.Permanent(fmt.Errorf("%s: processing.data_processes[0].code: %w", u, err))
	}
	if got != hash {
		return fault.Permanent(fmt.Errorf("%s describes job %s, not %s (the identity of processing.data_processes[0].code)", u, got, hash))
	}
	if meta.Name != hash {
		return fault.Permanent(fmt.Errorf("%s: name is %q, not %s", u, meta.Name, hash))
	}
	if loc, err := storage.Parse(meta.Location); err != nil || loc.String() != location.String() {
		return fault.Permanent(fmt.Errorf("%s: location is %q, not %s", u, meta.Location, location))
	}
	return nil
}

// DecodeRecord decodes a DocDB document into a Record. Numbers in parameters and outputs
// are kept as json.Number, so 10 stays "10" and 0.25 stays "0.25" in tables.
func DecodeRecord(doc bson.Raw) (Record, error) {
	b, err := bson.MarshalExtJSON(doc, false, false)
	if err != nil {
		return Record{}, fmt.Errorf("decoding record: %w", err)
	}
	return ParseRecord(b)
}

// ParseRecord decodes a record from JSON (a DocDB document as relaxed extended JSON, or a
// metadata.nd.json file, whose ID is then its name, the hash). Numbers are json.Number.
func ParseRecord(b []byte) (Record, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var r Record
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("decoding record: %w", err)
	}
	if r.ID == "" {
		r.ID = r.Name
	}
	return r, nil
}

// Process returns the record's first data process (the analysis), or a zero one.
func (r Record) Process() identity.DataProcess {
	if len(r.Processing.DataProcesses) == 0 {
		return identity.DataProcess{}
	}
	return r.Processing.DataProcesses[0]
}

// Inputs returns the input asset URLs, in the record's order.
func (r Record) Inputs() []string {
	var out []string
	for _, d := range r.Process().Code.InputData {
		out = append(out, d.URL)
	}
	return out
}

// CreatedTime parses the record's created timestamp (zero if absent or malformed).
func (r Record) CreatedTime() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, r.Created)
	return t
}

// Duration is the analysis' run time, from the start and end timestamps (0 if unknown).
func (r Record) Duration() time.Duration {
	p := r.Process()
	s, err1 := time.Parse(time.RFC3339Nano, p.StartDateTime)
	e, err2 := time.Parse(time.RFC3339Nano, p.EndDateTime)
	if err1 != nil || err2 != nil {
		return 0
	}
	return e.Sub(s)
}
