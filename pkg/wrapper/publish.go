package wrapper

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/identity"
	"github.com/allenneuraldynamics/aind-analysis-go/pkg/result"
)

// publish uploads outDir to <bucket>/<hash>/ and returns its manifest, uploaded last and
// checked against the listing (result.Publisher.Upload); record then writes the record.
// The caller holds the job's claim (held) and has checked that no record exists. Before
// each step that only the holder may take, clearing the prefix of a crashed attempt's
// leftovers and writing the record (insert-if-absent), the publisher calls the job's fence,
// which confirms both again. A claim that cannot be confirmed stops the job (ErrClaimLost,
// transient); a record that appeared is result.ErrRecordedElsewhere, and then nothing is
// deleted or written.
func (r *runner) publish(ctx context.Context, outDir, hash string, held *lease, log zerolog.Logger) (result.Manifest, error) {
	return r.publisher(log).Upload(ctx, r.fence(held, hash), hash, outDir)
}

// record writes the job's record (metadata.nd.json's document, _id = hash) insert-if-absent,
// after a fence; a record that is not ours is result.ErrRecordedElsewhere.
func (r *runner) record(ctx context.Context, meta identity.Metadata, m result.Manifest, held *lease, log zerolog.Logger) error {
	return r.publisher(log).Record(ctx, r.fence(held, m.Hash), m, meta)
}

func (r *runner) publisher(log zerolog.Logger) result.Publisher {
	return result.Publisher{Store: r.deps.Store, Bucket: r.cfg.Bucket, Records: r.deps.Records,
		Concurrency: r.cfg.UploadConcurrency, Now: r.deps.Now, Log: log}
}

// jobFence is the job's result.Fence: this wrapper still holds the job's claim and no
// record exists.
type jobFence struct {
	r    *runner
	held *lease
	hash string
}

func (r *runner) fence(held *lease, hash string) jobFence { return jobFence{r, held, hash} }

// Confirm renews the claim now (within the renewal deadline), then checks that no record
// exists: ErrClaimLost (transient) if the claim is not known to be held,
// result.ErrRecordedElsewhere if a record exists.
func (f jobFence) Confirm(ctx context.Context, step string) error {
	if err := f.held.confirm(ctx, step); err != nil {
		return err
	}
	done, err := f.r.isDone(ctx, f.hash)
	if err != nil {
		return err
	}
	if done {
		return fmt.Errorf("%w (found before %s)", result.ErrRecordedElsewhere, step)
	}
	return nil
}
