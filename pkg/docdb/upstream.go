package docdb

import (
	"context"
	"fmt"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
)

// upstreamFilter selects the records analysis-pipeline-utils' wrapper wrote: its
// write_to_docdb inserts Metadata.model_dump() with _id = its own hash, which has no
// top-level "created" (ours always has one).
var upstreamFilter = bson.D{{Key: "created", Value: bson.D{{Key: "$exists", Value: false}}}}

// upstreamIndex maps our identity of each upstream record's Code block
// (identity.HashUpstreamCode) to the record's _id, so Existing recognises a result the
// Python wrapper recorded for the same code, parameters and inputs: migrated work is done,
// not recomputed. Built once per collection handle, on the first Existing that misses.
type upstreamIndex struct {
	once    sync.Once
	off     bool              // never read (OwnRecords)
	codeURL string            // if set, only records of this code are read (ScopeUpstream)
	ids     map[string]string // our hash -> upstream _id
	err     error
}

// ScopeUpstream makes s read, when it looks for records of the Python wrapper (see
// Existing), only those of the code at codeURL: the only ones that can have an identity of
// this code, since the URL is part of it. The dispatcher and the wrapper know their code's
// URL; without the scope every Existing that misses reads every upstream record of the
// collection, once per handle (per wrapper task). s is returned; a Store of another kind,
// or an empty codeURL, is left as it is.
func ScopeUpstream(s Store, codeURL string) Store {
	switch c := s.(type) {
	case *Collection:
		c.upstream.codeURL = codeURL
	case *GatewayCollection:
		c.upstream.codeURL = codeURL
	}
	return s
}

// OwnRecords makes s's Existing answer from the documents with those _ids only, never
// from records of the Python wrapper: for a check of whether this very record exists (the
// wrapper's fence before it uploads into a prefix, its lookup of jobs the dispatcher
// already checked), which must not cost a read of every upstream record. s is returned; a
// Store of another kind is left as it is.
func OwnRecords(s Store) Store {
	switch c := s.(type) {
	case *Collection:
		c.upstream.off = true
	case *GatewayCollection:
		c.upstream.off = true
	}
	return s
}

// finder is Find of either backend.
type finder interface {
	Find(ctx context.Context, filter any, o FindOptions, fn func(bson.Raw) error) error
}

// addUpstream marks found[id] for each id in ids that is not found yet and is the identity
// of an upstream record in the collection f reads.
func (u *upstreamIndex) addUpstream(ctx context.Context, f finder, ids []string, found map[string]bool) error {
	if u.off {
		return nil
	}
	missing := false
	for _, id := range ids {
		if !found[id] {
			missing = true
			break
		}
	}
	if !missing {
		return nil
	}
	u.once.Do(func() { u.ids, u.err = loadUpstream(ctx, f, u.codeURL) })
	if u.err != nil {
		return u.err
	}
	for _, id := range ids {
		if _, ok := u.ids[id]; ok {
			found[id] = true
		}
	}
	return nil
}

// loadUpstream reads the code block of every upstream record (of the code at codeURL, if
// set) and indexes it by our hash.
func loadUpstream(ctx context.Context, f finder, codeURL string) (map[string]string, error) {
	ids := map[string]string{}
	proj := bson.D{{Key: "_id", Value: 1}, {Key: "processing", Value: 1}}
	filter := upstreamFilter
	if codeURL != "" {
		filter = append(bson.D{{Key: "processing.data_processes.code.url", Value: codeURL}}, upstreamFilter...)
	}
	err := f.Find(ctx, filter, FindOptions{Projection: proj}, func(doc bson.Raw) error {
		id, _ := doc.Lookup("_id").StringValueOK()
		procs, ok := doc.Lookup("processing", "data_processes").ArrayOK()
		if !ok {
			return nil
		}
		first, ok := procs.Index(0).DocumentOK()
		if !ok {
			return nil
		}
		code, ok := first.Lookup("code").DocumentOK()
		if !ok {
			return nil
		}
		raw, err := bson.MarshalExtJSON(code, false, false)
		if err != nil {
			return nil
		}
		if h, ok, err := identity.HashUpstreamCode(raw); err == nil && ok {
			ids[h] = id
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading records of the Python wrapper: %w", err)
	}
	return ids, nil
}
