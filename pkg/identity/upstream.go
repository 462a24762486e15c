package identity

import (
	"encoding/json"
	"fmt"
)

// upstreamOnly are the fields of aind-data-schema's Code that our Code block does not have.
// An upstream record may carry them only as null: a value there is identity we cannot
// reproduce, so such a record is never taken for one of ours.
var upstreamOnly = []string{"commit_hash", "container", "language", "language_version", "core_dependency"}

// HashUpstreamCode returns our identity (Code.Hash) of a Code block that
// analysis-pipeline-utils' wrapper recorded (processing.data_processes[0].code of its
// record, whose _id is its own hash: SHA-256 of pydantic's dump, key order and nulls
// included). The block's url, name, version, run_script, parameters (file_location
// included) and input_data URLs are taken as they are; input order, key order and null
// members do not count, as for ours. ok is false when the block holds something our Code
// cannot (a non-null field of upstreamOnly, an input that is not a plain data asset).
func HashUpstreamCode(raw []byte) (hash string, ok bool, err error) {
	var block map[string]json.RawMessage
	if err := json.Unmarshal(raw, &block); err != nil {
		return "", false, fmt.Errorf("upstream code block: %w", err)
	}
	for _, f := range upstreamOnly {
		if v, set := block[f]; set && string(v) != "null" {
			return "", false, nil
		}
	}
	var c struct {
		CodeInfo
		Parameters map[string]any `json:"parameters"`
		InputData  []struct {
			ObjectType string `json:"object_type"`
			URL        string `json:"url"`
		} `json:"input_data"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", false, fmt.Errorf("upstream code block: %w", err)
	}
	var inputs []string
	for _, in := range c.InputData {
		if in.ObjectType != ObjectTypeDataAsset {
			return "", false, nil
		}
		inputs = append(inputs, in.URL)
	}
	h, err := NewCode(c.CodeInfo, c.Parameters, inputs).Hash()
	return h, err == nil, err
}
