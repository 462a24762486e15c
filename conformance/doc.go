// Package conformance checks aind-analysis-go against the real Python upstream
// (analysis-pipeline-utils, aind-data-schema, aind-data-access-api; pinned in
// testdata/upstream/requirements.txt and installed by `scripts/install-deps --python-peers`):
// the records the wrapper writes validate with aind-data-schema's Metadata, the dispatcher
// selects what the upstream dispatcher selects, and records the upstream wrapper wrote are
// recognised as done. It has tests only; see docs/UPSTREAM.md for what they found.
package conformance
