package wrapper

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/result"
)

// publisher is the job's result.Publisher: Adopt, Upload and Record take the publish
// protocol's store-level steps. The caller holds the job's claim and has checked that no
// record exists; before each step only the holder may take (the first write under the
// prefix, writing the record insert-if-absent) the publisher calls the job's fence, which
// confirms the claim and, before the upload, that no record exists. A claim that cannot be
// confirmed stops the job (ErrClaimLost, transient); a record that appeared is
// result.ErrRecordedElsewhere, and then nothing is deleted or written.
func (r *runner) publisher(log zerolog.Logger) result.Publisher {
	return result.Publisher{Store: r.deps.Store, Bucket: r.cfg.Bucket, Records: r.deps.Records,
		Concurrency: r.cfg.UploadConcurrency, Now: r.deps.Now, Log: log}
}

// jobFence is the job's result.Fence: this wrapper holds the job's claim and, before its
// first write under the prefix, no record exists.
type jobFence struct {
	r    *runner
	held *lease
	hash string
}

func (r *runner) fence(held *lease, hash string) jobFence { return jobFence{r, held, hash} }

// Confirm makes sure the claim is held (lease.confirm: renewed now unless it is known to
// be held for half a lease yet): ErrClaimLost (transient) if it is not known to be. Before
// result.StepUpload it also checks that no record exists: result.ErrRecordedElsewhere if
// one does, and nothing is deleted. Before result.StepRecord the insert-if-absent is that
// check.
func (f jobFence) Confirm(ctx context.Context, step string) error {
	if err := f.held.confirm(ctx, step); err != nil {
		return err
	}
	if step != result.StepUpload {
		return nil
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
