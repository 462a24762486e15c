package docdb

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// Claim reserves id for holder for lease over the gateway (see claim): insert_one, resent
// after a lost reply and recognised by its read-back; update_one taking over an expired
// claim; find reading it back.
func (c *GatewayCollection) Claim(ctx context.Context, id, holder string, lease time.Duration) (bool, error) {
	held, err := claim(ctx, c, id, holder, lease)
	if err != nil {
		return false, fmt.Errorf("claiming %s: %w", id, err)
	}
	return held, nil
}

func (c *GatewayCollection) takeOver(ctx context.Context, filter, update bson.D) error {
	_, err := c.UpdateOne(ctx, filter, update, false)
	return err
}

func (c *GatewayCollection) holder(ctx context.Context, id string) (string, error) {
	h := ""
	err := c.Find(ctx, bson.D{{Key: "_id", Value: id}}, FindOptions{}, func(d bson.Raw) error {
		h, _ = d.Lookup("holder").StringValueOK()
		return nil
	})
	return h, err
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

// Release deletes holder's claims on ids in one request (none for no ids); a claim no
// longer held is not an error.
func (c *GatewayCollection) Release(ctx context.Context, holder string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := c.Delete(ctx, releaseFilter(holder, ids), len(ids) > 1); err != nil {
		return fmt.Errorf("releasing %s: %w", claimNames(ids), err)
	}
	return nil
}
