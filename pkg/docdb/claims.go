package docdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// ErrClaimLost means a claim this holder had was taken over (its lease ran out).
var ErrClaimLost = errors.New("claim lost: its lease expired and another holder took it")

// claimStore is what claim needs of a backend.
type claimStore interface {
	InsertIfAbsent(ctx context.Context, id string, doc any) (bool, error)
	// takeOver applies update to the document matching filter (at most one).
	takeOver(ctx context.Context, filter, update bson.D) error
	// holder returns the holder of claim id ("" when there is none).
	holder(ctx context.Context, id string) (string, error)
}

// claim reserves id for holder for lease (DataJoint-style job reservation), the same way
// on both backends: it inserts the claim document {_id: id, holder, claimed, expires}
// insert-if-absent, so an insert resent after a lost reply that meets its own claim counts
// it as held instead of colliding with itself. Another holder's claim is taken over only
// if its lease ran out (a conditional update), and then read back, whether or not the
// update matched: two takers may both have matched (the last writer holds it), and a
// takeover resent after a lost reply matches nothing although it took the claim.
func claim(ctx context.Context, s claimStore, id, holder string, lease time.Duration) (bool, error) {
	now := time.Now().UTC().Truncate(time.Millisecond) // as stored, so a read-back compares equal
	fields := bson.D{{Key: "holder", Value: holder}, {Key: "claimed", Value: now}, {Key: "expires", Value: now.Add(lease)}}
	held, err := s.InsertIfAbsent(ctx, id, fields)
	if err != nil || held {
		return held, err
	}
	filter := bson.D{{Key: "_id", Value: id}, {Key: "expires", Value: bson.D{{Key: "$lt", Value: now}}}}
	if err := s.takeOver(ctx, filter, bson.D{{Key: "$set", Value: fields}}); err != nil {
		return false, fmt.Errorf("taking over expired claim %s: %w", id, err)
	}
	h, err := s.holder(ctx, id)
	if err != nil {
		return false, fmt.Errorf("reading claim %s: %w", id, err)
	}
	return h == holder, nil
}

// Claim reserves id for holder for lease; true when holder now holds it (see claim).
// Claims live in their own collection; use one per results collection.
func (col *Collection) Claim(ctx context.Context, id, holder string, lease time.Duration) (bool, error) {
	held, err := claim(ctx, col, id, holder, lease)
	if err != nil {
		return false, fmt.Errorf("claiming %s in %s: %w", id, col.Name(), err)
	}
	return held, nil
}

func (col *Collection) takeOver(ctx context.Context, filter, update bson.D) error {
	return col.c.retry(ctx, func(ctx context.Context) error {
		_, err := col.coll.UpdateOne(ctx, filter, update)
		return err
	})
}

func (col *Collection) holder(ctx context.Context, id string) (string, error) {
	var got struct {
		Holder string `bson:"holder"`
	}
	err := col.c.retry(ctx, func(ctx context.Context) error {
		return col.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&got)
	})
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", nil
	}
	return got.Holder, err
}

// Renew extends holder's claim on id by lease from now. ErrClaimLost (permanent) when the
// claim is no longer holder's.
func (col *Collection) Renew(ctx context.Context, id, holder string, lease time.Duration) error {
	var matched int64
	err := col.c.retry(ctx, func(ctx context.Context) error {
		res, err := col.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "holder", Value: holder}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "expires", Value: time.Now().Add(lease)}}}})
		if err == nil {
			matched = res.MatchedCount
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("renewing claim %s: %w", id, err)
	}
	if matched == 0 {
		return fault.Permanent(fmt.Errorf("renewing claim %s: %w", id, ErrClaimLost))
	}
	return nil
}

// Release deletes holder's claims on ids in one request (none for no ids); releasing a
// claim one no longer holds is not an error.
func (col *Collection) Release(ctx context.Context, holder string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	err := col.c.retry(ctx, func(ctx context.Context) error {
		_, err := col.coll.DeleteMany(ctx, releaseFilter(holder, ids))
		return err
	})
	if err != nil {
		return fmt.Errorf("releasing %s: %w", claimNames(ids), err)
	}
	return nil
}

// releaseFilter matches holder's claims on ids: by _id equality for one (the index's
// plainest use), $in for more.
func releaseFilter(holder string, ids []string) bson.D {
	if len(ids) == 1 {
		return bson.D{{Key: "_id", Value: ids[0]}, {Key: "holder", Value: holder}}
	}
	return bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}, {Key: "holder", Value: holder}}
}

// claimNames names the claims of an error message: "claim X", or "N claims (X, ...)".
func claimNames(ids []string) string {
	if len(ids) == 1 {
		return "claim " + ids[0]
	}
	return fmt.Sprintf("%d claims (%s, ...)", len(ids), ids[0])
}
