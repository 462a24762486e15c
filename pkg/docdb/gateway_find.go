package docdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// Find pages through the documents matching filter by key: each page asks for
// {$and: [filter, {_id: {$gt: last}}]} sorted by _id (with $lt for a descending _id
// sort), where last is the previous page's last _id, until an empty page, and calls fn
// for each document. Paging by key instead of skip/limit means a document deleted or
// inserted between two pages cannot make another one be missed or seen twice, and each
// page costs the server an index range scan rather than skipping everything before it.
// The page size starts at BatchSize (or Config.PageSize) and halves on a 413.
//
// Only the _id order can be paged this way: Sort must be nil, {_id: 1} or {_id: -1};
// any other order is a usage error. A projection that leaves _id out still pages (the
// _id is fetched and dropped before fn sees the document).
func (c *GatewayCollection) Find(ctx context.Context, filter any, o FindOptions, fn func(bson.Raw) error) error {
	user, err := filterDoc(filter)
	if err != nil {
		return err
	}
	dir, err := idDirection(o.Sort)
	if err != nil {
		return fmt.Errorf("querying %s: %w", c.Name(), err)
	}
	q := url.Values{}
	q.Set("sort", fmt.Sprintf(`{"_id":%d}`, dir))
	dropID := false
	if o.Projection != nil {
		p, drop, err := keepID(o.Projection)
		if err != nil {
			return err
		}
		dropID = drop
		if len(p) > 0 {
			b, err := extJSON(p)
			if err != nil {
				return err
			}
			q.Set("projection", string(b))
		}
	}
	cmp := "$gt"
	if dir < 0 {
		cmp = "$lt"
	}
	page := c.g.cfg.PageSize
	if o.BatchSize > 0 {
		page = int(o.BatchSize)
	}
	var last *bson.RawValue
	for {
		f, err := extJSON(pageFilter(user, cmp, last))
		if err != nil {
			return err
		}
		q.Set("filter", string(f))
		q.Set("limit", strconv.Itoa(page))
		var docs []json.RawMessage
		err = c.g.call(ctx, http.MethodGet, c.path(), "find", q, nil, false, idempotent, &docs)
		var ge *GatewayError
		if errors.As(err, &ge) && ge.Status == http.StatusRequestEntityTooLarge && page > 1 {
			page /= 2
			continue
		}
		if err != nil {
			return fmt.Errorf("querying %s: %w", c.Name(), err)
		}
		if len(docs) == 0 {
			return nil
		}
		for _, d := range docs {
			raw, err := rawFromJSON(d)
			if err != nil {
				return fault.Permanent(fmt.Errorf("reading %s: document %.100q: %w", c.Name(), d, err))
			}
			id, err := raw.LookupErr("_id")
			if err != nil {
				return fault.Permanent(fmt.Errorf("reading %s: document without _id %.100q: cannot page past it", c.Name(), d))
			}
			last = &id
			if dropID {
				raw, err = withoutID(raw)
				if err != nil {
					return fault.Permanent(fmt.Errorf("reading %s: %w", c.Name(), err))
				}
			}
			if err := fn(raw); err != nil {
				return err
			}
		}
	}
}

// filterDoc turns a filter of any form (bson.D, bson.M, json.RawMessage, nil) into a
// document, so the page's key condition can be combined with it.
func filterDoc(filter any) (bson.D, error) {
	b, err := extJSON(filter)
	if err != nil {
		return nil, err
	}
	var d bson.D
	if err := bson.UnmarshalExtJSON(b, false, &d); err != nil {
		return nil, fault.Usagef("filter %.200s: %w", b, err)
	}
	if d == nil {
		d = bson.D{}
	}
	return d, nil
}

// pageFilter is the user's filter restricted to keys after last (nil: the first page).
func pageFilter(user bson.D, cmp string, last *bson.RawValue) bson.D {
	if last == nil {
		return user
	}
	key := bson.D{{Key: "_id", Value: bson.D{{Key: cmp, Value: *last}}}}
	if len(user) == 0 {
		return key
	}
	return bson.D{{Key: "$and", Value: bson.A{user, key}}}
}

// idDirection returns 1 or -1 for a nil or empty, {_id: 1} or {_id: -1} sort; any other order
// cannot be paged by key and is a usage error.
func idDirection(sort any) (int, error) {
	if sort == nil {
		return 1, nil
	}
	d, err := filterDoc(sort)
	if err != nil {
		return 0, err
	}
	if len(d) == 0 {
		return 1, nil
	}
	if len(d) == 1 && d[0].Key == "_id" {
		switch v := d[0].Value.(type) {
		case int32:
			if v == 1 || v == -1 {
				return int(v), nil
			}
		case int64:
			if v == 1 || v == -1 {
				return int(v), nil
			}
		case float64:
			if v == 1 || v == -1 {
				return int(v), nil
			}
		}
	}
	return 0, fault.Usagef("sort %v: the DocDB gateway pages by _id, so only {_id: 1} or {_id: -1} can be asked for; sort the documents after reading them", d)
}

// keepID returns projection with any exclusion of _id removed, and whether _id must be
// dropped from what the caller sees (paging needs every document's _id).
func keepID(projection any) (bson.D, bool, error) {
	p, err := filterDoc(projection)
	if err != nil {
		return nil, false, err
	}
	out := make(bson.D, 0, len(p))
	drop := false
	for _, e := range p {
		if e.Key == "_id" && !truthy(e.Value) {
			drop = true
			continue
		}
		out = append(out, e)
	}
	return out, drop, nil
}

// truthy reports whether a projection value includes its field.
func truthy(v any) bool {
	switch t := v.(type) {
	case bool:
		return t
	case int32:
		return t != 0
	case int64:
		return t != 0
	case float64:
		return t != 0
	}
	return true
}

// withoutID returns doc without its _id field.
func withoutID(doc bson.Raw) (bson.Raw, error) {
	var d bson.D
	if err := bson.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	out := d[:0]
	for _, e := range d {
		if e.Key != "_id" {
			out = append(out, e)
		}
	}
	return bson.Marshal(out)
}
