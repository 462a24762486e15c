package wrapper

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/result"
)

// publisher is the job's result.Publisher: Adopt, Upload and Record take the publish
// protocol's store-level steps. The caller holds the job's claim and has checked that no
// record exists; before each step only the holder may take (clearing the prefix of a
// crashed attempt's leftovers, writing the record insert-if-absent) the publisher calls the
// job's fence, which confirms both again. A claim that cannot be confirmed stops the job
// (ErrClaimLost, transient); a record that appeared is result.ErrRecordedElsewhere, and
// then nothing is deleted or written.
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
