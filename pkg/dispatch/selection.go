package dispatch

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/docdb"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/job"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/mongopath"
)

// RecordFinder streams data-asset records. *docdb.Collection implements it; the contract
// is docdb.Collection.Find's: fn sees each matching document once, in the requested order,
// and an error from fn stops the stream and is returned unchanged.
type RecordFinder interface {
	Find(ctx context.Context, filter any, o docdb.FindOptions, fn func(bson.Raw) error) error
}

// projection returns the fields the selection reads: _id, name, location and every field
// path it groups, filters or unwinds by. Paths are cut at the first array index, and a
// path under another kept path is left out (Mongo refuses overlapping projections).
func (o *Options) projection() bson.D {
	paths := []string{"name", "location"}
	paths = append(paths, o.GroupBy...)
	paths = append(paths, o.FilterBy...)
	paths = append(paths, o.UnwindListFields...)
	if o.FilterLatest != "" {
		paths = append(paths, o.FilterLatest)
	}
	for i, p := range paths {
		parts := strings.Split(p, ".")
		for j, part := range parts {
			if _, err := strconv.Atoi(part); err == nil && j > 0 {
				parts = parts[:j]
				break
			}
		}
		paths[i] = strings.Join(parts, ".")
	}
	sort.Strings(paths)
	proj := bson.D{{Key: "_id", Value: 1}}
	var kept []string
	for _, p := range paths {
		covered := false
		for _, k := range kept {
			if p == k || strings.HasPrefix(p, k+".") {
				covered = true
				break
			}
		}
		if !covered {
			kept = append(kept, p)
			proj = append(proj, bson.E{Key: p, Value: 1})
		}
	}
	return proj
}

// selectJobs runs the query and shapes the records, in the upstream order: drop records
// with null group_by or filter_by fields (with drop_null_groups; see record.isNull), keep
// the latest per filter_by, unwind list fields, group. Dropping comes first, so a later
// record without a group value does not supersede an earlier one that has it. It emits
// one job per record or group, in a deterministic order (records by _id; groups by their
// first record). Field paths follow Mongo's aggregation rules (mongopath.Resolve).
func (d *dispatcher) selectJobs(ctx context.Context, emit func(job.Job) error) error {
	o := d.opts
	streaming := o.FilterLatest == "" && len(o.GroupBy) == 0
	var kept []*record
	err := d.finder.Find(ctx, o.Query, docdb.FindOptions{
		Projection: o.projection(),
		Sort:       bson.D{{Key: "_id", Value: 1}},
		BatchSize:  1000,
	}, func(raw bson.Raw) error {
		r, err := newRecord(raw)
		if err != nil {
			return fmt.Errorf("reading asset records: %w", err)
		}
		d.stats.Records++
		d.progress.Count("records", 1)
		if streaming {
			return d.unwind(r, func(r *record) error { return emit(d.single(r)) })
		}
		if o.DropNullGroups && (anyNull(r, o.GroupBy) || anyNull(r, o.FilterBy)) {
			d.stats.DroppedNull++
			return nil
		}
		kept = append(kept, r)
		return nil
	})
	if err != nil || streaming {
		return err
	}
	if o.FilterLatest != "" {
		kept = d.latest(kept)
	}
	var unwound []*record
	for _, r := range kept {
		if err := d.unwind(r, func(r *record) error { unwound = append(unwound, r); return nil }); err != nil {
			return err
		}
	}
	if len(o.GroupBy) == 0 {
		for _, r := range unwound {
			if err := emit(d.single(r)); err != nil {
				return err
			}
		}
		return nil
	}
	return d.group(unwound, emit)
}

// latest keeps, per combination of filter_by values, the record with the greatest
// filter_latest value (the first such record on ties), in order of first appearance.
// Null and missing filter_by values are one key, as in Mongo's $group.
func (d *dispatcher) latest(in []*record) []*record {
	o := d.opts
	best := map[string]int{}
	var out []*record
	for _, r := range in {
		key := groupKey(r, o.FilterBy)
		i, seen := best[key]
		if !seen {
			best[key] = len(out)
			out = append(out, r)
			continue
		}
		cur := out[i]
		av, aok := r.lookup(o.FilterLatest)
		bv, bok := cur.lookup(o.FilterLatest)
		if compareValues(av, bv, aok, bok) > 0 {
			out[i] = r
		}
	}
	d.stats.NotLatest += len(in) - len(out)
	return out
}

// unwind emits one record per element of each unwind_list_fields list (a scalar counts
// as a one-element list, as upstream; an empty list yields no record, as Mongo's $unwind).
func (d *dispatcher) unwind(r *record, emit func(*record) error) error {
	return d.unwindFrom(r, 0, emit)
}

func (d *dispatcher) unwindFrom(r *record, i int, emit func(*record) error) error {
	fields := d.opts.UnwindListFields
	if i == len(fields) {
		return emit(r)
	}
	v, ok := r.lookup(fields[i])
	if !ok || v.Type != bson.TypeArray {
		if !ok {
			v = bson.RawValue{Type: bson.TypeNull}
		}
		return d.unwindFrom(r.with(fields[i], v), i+1, emit)
	}
	vals, err := v.Array().Values()
	if err != nil {
		return fmt.Errorf("record %s: field %q: %w", r.id, fields[i], err)
	}
	for _, e := range vals {
		if err := d.unwindFrom(r.with(fields[i], e), i+1, emit); err != nil {
			return err
		}
	}
	return nil
}

func anyNull(r *record, paths []string) bool {
	for _, p := range paths {
		if r.isNull(p) {
			return true
		}
	}
	return false
}

func groupKey(r *record, paths []string) string {
	vals := make([]any, len(paths))
	for i, p := range paths {
		if v, ok := r.lookup(p); ok {
			vals[i] = mongopath.Plain(v)
		}
	}
	return valueKey(vals)
}

// group emits one job per distinct combination of group_by values, assets in record order.
// Records with null group values were dropped before (with drop_null_groups); without it
// they form their own group, null and missing alike, as in Mongo's $group.
func (d *dispatcher) group(in []*record, emit func(job.Job) error) error {
	o := d.opts
	index := map[string]int{}
	var groups []*job.Job
	for _, r := range in {
		key := groupKey(r, o.GroupBy)
		i, ok := index[key]
		if !ok {
			meta := make(map[string]any, len(o.GroupBy))
			for _, p := range o.GroupBy {
				var val any
				if v, ok := r.lookup(p); ok {
					val = mongopath.Plain(v)
				}
				meta[strings.ReplaceAll(p, ".", "__")] = val
			}
			j := d.newJob()
			j.GroupMetadata = meta
			index[key] = len(groups)
			i = len(groups)
			groups = append(groups, &j)
		}
		g := groups[i]
		g.S3Location = append(g.S3Location, r.location)
		g.DocDBRecordID = append(g.DocDBRecordID, r.id)
		g.AssetName = append(g.AssetName, r.name)
	}
	d.stats.Groups = len(groups)
	for _, g := range groups {
		if err := emit(*g); err != nil {
			return err
		}
	}
	return nil
}

func (d *dispatcher) newJob() job.Job {
	j := job.Job{}
	if d.opts.QueryText != "" {
		q := d.opts.QueryText
		j.Query = &q
	}
	return j
}

func (d *dispatcher) single(r *record) job.Job {
	j := d.newJob()
	j.S3Location = []string{r.location}
	j.DocDBRecordID = []string{r.id}
	j.AssetName = []string{r.name}
	return j
}
