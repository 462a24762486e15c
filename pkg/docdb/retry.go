package docdb

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// maxBackoff caps the wait between two attempts.
const maxBackoff = 10 * time.Second

// retryPolicy is the one retry policy of both ways into DocDB (the Mongo driver and the
// gateway): an operation that failed transiently is tried again, up to attempts tries in
// all, after a wait that starts near first and doubles, jittered by ±50% (so wrappers that
// failed together do not retry together) and capped at maxBackoff; never on a cancelled
// context, and never after a failure that transient says is not transient.
//
// Whether an operation may be retried at all after a failure that leaves its outcome
// unknown is the caller's to decide (see resend): a write that must not be applied twice
// is either not retried then, or retried in a way that recognises its own earlier success
// (InsertIfAbsent reads the document back and compares it).
type retryPolicy struct {
	attempts int
	first    time.Duration
}

// do runs op under the policy and returns its last error (nil once it succeeds) and how
// many times it ran.
func (p retryPolicy) do(ctx context.Context, op func(context.Context) error, transient func(error) bool) (int, error) {
	tries := 0
	b := &backoff.ExponentialBackOff{
		InitialInterval:     p.first,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         maxBackoff,
	}
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		tries++
		err := op(ctx)
		if err != nil && !transient(err) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxTries(uint(max(p.attempts, 1))), backoff.WithMaxElapsedTime(0))
	var permanent *backoff.PermanentError
	if errors.As(err, &permanent) { // the last try's permanent error comes back wrapped
		err = permanent.Unwrap()
	}
	return tries, err
}
