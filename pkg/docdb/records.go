package docdb

// Record writes, with one semantics for both implementations (see Store):
//
//   - InsertIfAbsent creates the document at _id = id only if there is none. A result
//     record is written this way: a record, once there, is never overwritten.
//   - Upsert sets the fields it is given at _id = id ($set, inserting the document if
//     absent) and keeps the fields it is not given.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// setFields encodes doc as its fields without _id (for $set). doc's own _id, if any,
// must be id.
func setFields(id string, doc any) (bson.D, error) {
	raw, err := bson.Marshal(doc)
	if err != nil {
		return nil, fault.Usagef("encoding record %s: %w", id, err)
	}
	var d bson.D
	if err := bson.Unmarshal(raw, &d); err != nil {
		return nil, fault.Usagef("encoding record %s: %w", id, err)
	}
	out := make(bson.D, 0, len(d))
	for _, e := range d {
		if e.Key != "_id" {
			out = append(out, e)
			continue
		}
		if s, ok := e.Value.(string); !ok || s != id {
			return nil, fault.Usagef("record %s: the document's own _id is %v", id, e.Value)
		}
	}
	return out, nil
}

// withID returns doc's fields with _id = id first.
func withID(id string, doc any) (bson.D, error) {
	set, err := setFields(id, doc)
	if err != nil {
		return nil, err
	}
	return append(bson.D{{Key: "_id", Value: id}}, set...), nil
}

// sameDocument reports whether stored holds the same fields and values as want, compared
// as relaxed Extended JSON (so an int32 and an int64 of the same value are equal, as they
// may come back from the gateway either way).
func sameDocument(stored bson.Raw, want bson.D) bool {
	w, err := bson.Marshal(want)
	if err != nil {
		return false
	}
	var a, b any
	for _, p := range []struct {
		raw bson.Raw
		out *any
	}{{stored, &a}, {w, &b}} {
		j, err := bson.MarshalExtJSON(p.raw, false, false)
		if err != nil || json.Unmarshal(j, p.out) != nil {
			return false
		}
	}
	return reflect.DeepEqual(a, b)
}

// insertAttempts bounds how many times insertIfAbsent inserts again after the document
// that refused its insert was deleted before the read-back found it.
const insertAttempts = 10

// insertIfAbsent is InsertIfAbsent's one loop for both backends. insert reports whether
// another document already held the _id (dup); readBack reports whether a document is
// there now and whether it is doc. A document deleted between the refused insert and the
// read-back (a claim released by its holder at that moment) leaves the _id free, so the
// insert is tried again, up to insertAttempts times, after which the error is transient.
func insertIfAbsent(ctx context.Context, id string, insert func(context.Context) (dup bool, err error), readBack func(context.Context) (found, same bool, err error)) (bool, error) {
	for attempt := 0; attempt < insertAttempts; attempt++ {
		dup, err := insert(ctx)
		if err != nil {
			return false, fmt.Errorf("inserting record %s: %w", id, err)
		}
		if !dup {
			return true, nil
		}
		found, same, err := readBack(ctx)
		if err != nil {
			return false, fmt.Errorf("reading record %s: %w", id, err)
		}
		if found {
			return same, nil
		}
	}
	return false, fault.Transient(fmt.Errorf("record %s: refused as present, then gone when read back, %d times in a row", id, insertAttempts))
}

// InsertIfAbsent inserts doc at _id = id unless a document with that _id exists, and
// reports whether the stored document is doc: true when it was inserted now (or by an
// earlier attempt of this same write whose reply was lost, so a retry is idempotent),
// false when another document holds id, which is left untouched. A document that refuses
// the insert and is deleted before it can be read back is no obstacle: the insert is
// tried again (see insertIfAbsent).
func (col *Collection) InsertIfAbsent(ctx context.Context, id string, doc any) (bool, error) {
	d, err := withID(id, doc)
	if err != nil {
		return false, err
	}
	insert := func(ctx context.Context) (bool, error) {
		dup := false
		err := col.c.retry(ctx, func(ctx context.Context) error {
			_, err := col.coll.InsertOne(ctx, d)
			if mongo.IsDuplicateKeyError(err) {
				dup = true
				return nil
			}
			return err
		})
		return dup, err
	}
	readBack := func(ctx context.Context) (bool, bool, error) {
		var stored bson.Raw
		err := col.c.retry(ctx, func(ctx context.Context) error {
			var err error
			stored, err = col.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
			if errors.Is(err, mongo.ErrNoDocuments) {
				stored = nil
				return nil
			}
			return err
		})
		if err != nil || stored == nil {
			return false, false, err
		}
		return true, sameDocument(stored, d), nil
	}
	held, err := insertIfAbsent(ctx, id, insert, readBack)
	if err != nil {
		return false, fmt.Errorf("%s: %w", col.Name(), err)
	}
	return held, nil
}

// Upsert sets doc's fields at _id = id ($set; the document is inserted if absent, and
// fields doc does not have are kept), retried on transient faults. doc's own _id, if
// any, must equal id; field names must not contain dots or start with $.
func (col *Collection) Upsert(ctx context.Context, id string, doc any) error {
	set, err := setFields(id, doc)
	if err != nil {
		return err
	}
	if len(set) == 0 { // $set of nothing is refused: just make sure the document exists
		_, err := col.InsertIfAbsent(ctx, id, set)
		return err
	}
	err = col.c.retry(ctx, func(ctx context.Context) error {
		_, err := col.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: set}}, options.UpdateOne().SetUpsert(true))
		return err
	})
	if err != nil {
		return fmt.Errorf("writing record %s to %s: %w", id, col.Name(), err)
	}
	return nil
}

// InsertIfAbsent is Collection.InsertIfAbsent over the gateway: insert_one, and on 409
// a read-back comparing the stored document with doc (inserting again if it is gone).
func (c *GatewayCollection) InsertIfAbsent(ctx context.Context, id string, doc any) (bool, error) {
	d, err := withID(id, doc)
	if err != nil {
		return false, err
	}
	insert := func(ctx context.Context) (bool, error) {
		// Resent after a lost reply, the insert may meet its own earlier success: the 409
		// read-back finds the same document and counts it as ours.
		err := c.insertOne(ctx, d, idempotent)
		var ge *GatewayError
		if errors.As(err, &ge) && ge.Status == http.StatusConflict {
			return true, nil
		}
		return false, err
	}
	readBack := func(ctx context.Context) (found, same bool, err error) {
		err = c.Find(ctx, bson.D{{Key: "_id", Value: id}}, FindOptions{}, func(stored bson.Raw) error {
			found, same = true, sameDocument(stored, d)
			return nil
		})
		return found, same, err
	}
	return insertIfAbsent(ctx, id, insert, readBack)
}

// Upsert is Collection.Upsert over the gateway: update_one {$set: doc} with upsert "True".
func (c *GatewayCollection) Upsert(ctx context.Context, id string, doc any) error {
	set, err := setFields(id, doc)
	if err != nil {
		return err
	}
	if len(set) == 0 {
		_, err := c.InsertIfAbsent(ctx, id, set)
		return err
	}
	if _, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: set}}, true); err != nil {
		return fmt.Errorf("writing record %s: %w", id, err)
	}
	return nil
}
