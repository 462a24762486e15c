// Package identity owns a job's processing identity: the canonical JSON form, the one
// hash function, and the processing Code block that is hashed. The dispatcher (to skip
// work already done) and the wrapper (to name results and records) both call Hash here and
// nowhere else, so they can never disagree about what "the same job" is.
//
// Canonical form: the value is marshalled with encoding/json, object members whose value
// is null are dropped (recursively; so a schema upgrade that adds an optional null field
// keeps old identities), and the result is transformed per RFC 8785 (JSON Canonicalization
// Scheme): object keys sorted, one number form (2, 2.0 and 2e0 are all "2"), no
// insignificant white space. Strings and numbers stay distinct: "2" is not 2.
// Numbers follow RFC 8785 and are IEEE-754 doubles, so integers beyond 2^53 lose precision.
package identity

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/gowebpki/jcs"
)

// Canonical returns the canonical JSON encoding of v (see the package comment).
func Canonical(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	return CanonicalJSON(raw)
}

// CanonicalJSON returns the canonical encoding of the JSON text raw: Canonical of a value
// whose json.Marshal is raw, for a caller that already has that text.
func CanonicalJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	stripped, err := json.Marshal(dropNulls(tree))
	if err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	out, err := jcs.Transform(stripped)
	if err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	return out, nil
}

// dropNulls removes object members whose value is null, at every depth. Array elements
// keep their positions (a null inside a list is data).
func dropNulls(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if e == nil {
				delete(t, k)
				continue
			}
			t[k] = dropNulls(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = dropNulls(e)
		}
		return t
	default:
		return v
	}
}

// Hash returns the lowercase hex SHA-256 of Canonical(v): the identity of v.
func Hash(v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("canonical json: %w", err)
	}
	return HashJSON(raw)
}

// HashJSON is Hash of a value whose json.Marshal is raw.
func HashJSON(raw []byte) (string, error) {
	c, err := CanonicalJSON(raw)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(c)
	return hex.EncodeToString(sum[:]), nil
}

// Object type strings of aind-data-schema v2 used in processing records.
const (
	ObjectTypeCode      = "Code"
	ObjectTypeDataAsset = "Data asset"
)

// CodeInfo says which analysis code runs: where it lives, its name and version, and the
// script that runs it. Version is the release version, or a commit hash when the code has
// unreleased changes.
type CodeInfo struct {
	URL       string `json:"url"`
	Name      string `json:"name,omitempty"`
	Version   string `json:"version,omitempty"`
	RunScript string `json:"run_script,omitempty"`
}

// IsZero reports whether no code information was given at all.
func (c CodeInfo) IsZero() bool { return c == CodeInfo{} }

// DataAsset is one input of a processing step, as aind-data-schema's "Data asset".
type DataAsset struct {
	ObjectType string `json:"object_type"`
	URL        string `json:"url"`
}

// Code is the processing Code block of aind-data-schema v2 that identifies a result:
// the code, its parameters and its inputs. Its Hash is the result's S3 prefix, the record's
// name and the record's _id.
type Code struct {
	ObjectType string `json:"object_type"`
	CodeInfo
	Parameters map[string]any `json:"parameters"`
	InputData  []DataAsset    `json:"input_data"`
}

// FileLocationKey is the parameter that holds a job's matched files (as upstream).
const FileLocationKey = "file_location"

// NewCode builds the Code block for code info, merged parameters and the input asset
// locations. Inputs are sorted by URL, and a file_location parameter that is a list of
// strings (the job's matched files) is sorted too: both are sets of inputs, whose order
// (assets in a group, files as listed or written in the job file) must not change the
// identity. params is not copied unless file_location needs sorting (the caller's list is
// never reordered); callers must not change params afterwards.
func NewCode(info CodeInfo, params map[string]any, inputs []string) Code {
	if params == nil {
		params = map[string]any{}
	}
	if files, ok := sortedStrings(params[FileLocationKey]); ok {
		p := make(map[string]any, len(params))
		for k, v := range params {
			p[k] = v
		}
		p[FileLocationKey] = files
		params = p
	}
	data := make([]DataAsset, 0, len(inputs))
	for _, u := range inputs {
		data = append(data, DataAsset{ObjectType: ObjectTypeDataAsset, URL: u})
	}
	sort.SliceStable(data, func(i, j int) bool { return data[i].URL < data[j].URL })
	return Code{ObjectType: ObjectTypeCode, CodeInfo: info, Parameters: params, InputData: data}
}

// sortedStrings returns a sorted copy of v as a []any when v is a list of strings
// ([]string or []any holding only strings) not already in order.
func sortedStrings(v any) ([]any, bool) {
	var list []string
	switch t := v.(type) {
	case []string:
		list = slices.Clone(t)
	case []any:
		list = make([]string, len(t))
		for i, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			list[i] = s
		}
	default:
		return nil, false
	}
	if slices.IsSorted(list) {
		if _, isAny := v.([]any); isAny {
			return nil, false
		}
	}
	slices.Sort(list)
	out := make([]any, len(list))
	for i, s := range list {
		out[i] = s
	}
	return out, true
}

// Hash returns the identity of the Code block.
func (c Code) Hash() (string, error) {
	h, err := Hash(c)
	if err != nil {
		return "", fmt.Errorf("hashing code block: %w", err)
	}
	return h, nil
}
