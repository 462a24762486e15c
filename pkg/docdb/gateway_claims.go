package docdb

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// Claim reserves id for holder for lease: insert_one of the claim document; on 409 (held)
// an update_one taking over an expired claim, then a read-back (two takers may both match).
func (c *GatewayCollection) Claim(ctx context.Context, id, holder string, lease time.Duration) (bool, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	doc := bson.D{{Key: "_id", Value: id}, {Key: "holder", Value: holder}, {Key: "claimed", Value: now}, {Key: "expires", Value: now.Add(lease)}}
	err := c.InsertOne(ctx, doc)
	var ge *GatewayError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ge) && ge.Status == http.StatusConflict:
	default:
		return false, fmt.Errorf("claiming %s: %w", id, err)
	}
	filter := bson.D{{Key: "_id", Value: id}, {Key: "expires", Value: bson.D{{Key: "$lt", Value: now}}}}
	update := bson.D{{Key: "$set", Value: bson.D{{Key: "holder", Value: holder}, {Key: "claimed", Value: now}, {Key: "expires", Value: now.Add(lease)}}}}
	res, err := c.UpdateOne(ctx, filter, update, false)
	if err != nil {
		return false, fmt.Errorf("taking over expired claim %s: %w", id, err)
	}
	if res.MatchedCount == 0 {
		return false, nil
	}
	held := false
	err = c.Find(ctx, bson.D{{Key: "_id", Value: id}}, FindOptions{}, func(d bson.Raw) error {
		h, _ := d.Lookup("holder").StringValueOK()
		held = h == holder
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("reading claim %s: %w", id, err)
	}
	return held, nil
}

// Renew extends holder's claim on id by lease from now; ErrClaimLost (permanent) when the
// claim is no longer holder's.
func (c *GatewayCollection) Renew(ctx context.Context, id, holder string, lease time.Duration) error {
	res, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "holder", Value: holder}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "expires", Value: time.Now().UTC().Add(lease)}}}}, false)
	if err != nil {
		return fmt.Errorf("renewing claim %s: %w", id, err)
	}
	if res.MatchedCount == 0 {
		return fault.Permanent(fmt.Errorf("renewing claim %s: %w", id, ErrClaimLost))
	}
	return nil
}

// Release deletes holder's claim on id; a claim no longer held is not an error.
func (c *GatewayCollection) Release(ctx context.Context, id, holder string) error {
	if _, err := c.Delete(ctx, bson.D{{Key: "_id", Value: id}, {Key: "holder", Value: holder}}, false); err != nil {
		return fmt.Errorf("releasing claim %s: %w", id, err)
	}
	return nil
}
