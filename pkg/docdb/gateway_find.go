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

// Find pages through the documents matching filter with limit/skip until an empty page,
// calling fn for each. The page size starts at BatchSize (or Config.PageSize) and halves
// on a 413. Without a Sort the pages are ordered by _id so skip is stable.
func (c *GatewayCollection) Find(ctx context.Context, filter any, o FindOptions, fn func(bson.Raw) error) error {
	q := url.Values{}
	f, err := extJSON(filter)
	if err != nil {
		return err
	}
	q.Set("filter", string(f))
	if o.Projection != nil {
		p, err := extJSON(o.Projection)
		if err != nil {
			return err
		}
		q.Set("projection", string(p))
	}
	sortSpec := o.Sort
	if sortSpec == nil {
		sortSpec = bson.D{{Key: "_id", Value: 1}}
	}
	s, err := extJSON(sortSpec)
	if err != nil {
		return err
	}
	q.Set("sort", string(s))
	page := c.g.cfg.PageSize
	if o.BatchSize > 0 {
		page = int(o.BatchSize)
	}
	for skip := 0; ; {
		q.Set("limit", strconv.Itoa(page))
		q.Set("skip", strconv.Itoa(skip))
		var docs []json.RawMessage
		err := c.g.call(ctx, http.MethodGet, c.path(), "find", q, nil, false, &docs)
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
			if err := fn(raw); err != nil {
				return err
			}
		}
		skip += len(docs)
	}
}
