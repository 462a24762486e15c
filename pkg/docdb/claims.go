package docdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// ErrClaimLost means a claim this holder had was taken over (its lease ran out).
var ErrClaimLost = errors.New("claim lost: its lease expired and another holder took it")

// Claim reserves id for holder for lease (DataJoint-style job reservation): it inserts a
// claim document with _id = id, and a duplicate-key error means someone else holds it.
// An expired claim (its holder crashed) is taken over. It returns true when holder now
// holds the claim. Claims live in their own collection; use one per results collection.
func (col *Collection) Claim(ctx context.Context, id, holder string, lease time.Duration) (bool, error) {
	now := time.Now()
	doc := bson.D{{Key: "_id", Value: id}, {Key: "holder", Value: holder}, {Key: "claimed", Value: now}, {Key: "expires", Value: now.Add(lease)}}
	var dup bool
	err := col.c.retry(ctx, func(ctx context.Context) error {
		_, err := col.coll.InsertOne(ctx, doc)
		if mongo.IsDuplicateKeyError(err) {
			dup = true
			return nil
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("claiming %s in %s: %w", id, col.Name(), err)
	}
	if !dup {
		return true, nil
	}
	// Held: take it over only if its lease ran out.
	filter := bson.D{{Key: "_id", Value: id}, {Key: "expires", Value: bson.D{{Key: "$lt", Value: now}}}}
	update := bson.D{{Key: "$set", Value: bson.D{{Key: "holder", Value: holder}, {Key: "claimed", Value: now}, {Key: "expires", Value: now.Add(lease)}}}}
	var matched int64
	err = col.c.retry(ctx, func(ctx context.Context) error {
		res, err := col.coll.UpdateOne(ctx, filter, update)
		if err == nil {
			matched = res.MatchedCount
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("taking over expired claim %s: %w", id, err)
	}
	if matched == 0 {
		return false, nil
	}
	// Two takers may both have matched an expired claim: the last writer holds it.
	return col.holds(ctx, id, holder)
}

func (col *Collection) holds(ctx context.Context, id, holder string) (bool, error) {
	var got struct {
		Holder string `bson:"holder"`
	}
	err := col.c.retry(ctx, func(ctx context.Context) error {
		return col.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&got)
	})
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading claim %s: %w", id, err)
	}
	return got.Holder == holder, nil
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

// Release deletes holder's claim on id; releasing a claim one no longer holds is not an
// error.
func (col *Collection) Release(ctx context.Context, id, holder string) error {
	err := col.c.retry(ctx, func(ctx context.Context) error {
		_, err := col.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "holder", Value: holder}}, options.DeleteOne())
		return err
	})
	if err != nil {
		return fmt.Errorf("releasing claim %s: %w", id, err)
	}
	return nil
}
