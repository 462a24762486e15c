package wrapper

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// ErrClaimLost means this wrapper no longer holds, or can no longer show that it holds,
// its job's claim: a renewal was refused (another holder took the claim over), the claim
// was not renewed within its lease, or it could not be confirmed before a step only the
// holder may take. The job stops at once and fails transiently (exit 75): by the time the
// pipeline retries, the job is recorded (and skipped) or free to claim again.
var ErrClaimLost = errors.New("claim lost")

// claimed is a job's claim as the steps after takeClaim use it.
type claimed struct {
	held *lease // nil in a dry run (nothing is claimed)
	// ctx is the job's context: cancelled, with ErrClaimLost as its cause, when the claim
	// is lost.
	ctx context.Context
	// release stops renewing the claim and cancels ctx; the claim itself is released with
	// the run's others when the run ends (runner.releaseClaims), one request for all.
	release func()
}

// takeClaim claims the job (not in a dry run, which claims nothing) and starts renewing
// the claim. status is StatusDeferred when another wrapper holds the claim; then, as on an
// error, nothing is held. Someone may have finished the job between the batched lookup and
// the claim: then its result is published, and the listing of the prefix that follows finds
// it (runJob's complete).
func (r *runner) takeClaim(ctx context.Context, hash string, log zerolog.Logger) (claimed, Status, error) {
	if r.cfg.DryRun {
		return claimed{ctx: ctx, release: func() {}}, "", nil
	}
	sent := time.Now()
	ok, err := r.deps.Claims.Claim(ctx, hash, r.cfg.Holder, r.cfg.Lease)
	if err != nil {
		return claimed{}, "", err
	}
	if !ok {
		return claimed{}, StatusDeferred, nil
	}
	log.Debug().Str("holder", r.cfg.Holder).Dur("lease", r.cfg.Lease).Msg("job claimed")
	held := newLease(r.deps.Claims, hash, r.cfg.Holder, r.cfg.Lease, sent, log)
	jobCtx, cancel := context.WithCancelCause(ctx)
	held.start(jobCtx, cancel)
	r.mu.Lock()
	r.claimed = append(r.claimed, hash)
	r.mu.Unlock()
	return claimed{held: held, ctx: jobCtx, release: func() {
		held.stopRenewing()
		cancel(nil)
	}}, "", nil
}

// lease is a held claim and what this wrapper knows of it. The claim store's expiry is
// set from the time a claim or renewal was sent, so the claim is known to be held until
// that time plus the lease; until is that, less a safety margin (for clock skew between
// hosts and for a write still in flight). A heartbeat renews every Lease/3, each renewal
// bounded by Lease/4; when the lease runs out without a successful renewal, or a renewal
// is refused, the job's context is cancelled with ErrClaimLost as its cause, even if the
// renewal is still blocked.
type lease struct {
	claims     Claims
	id, holder string
	length     time.Duration
	log        zerolog.Logger
	cancel     context.CancelCauseFunc

	mu    sync.Mutex
	until time.Time
	lost  error

	stop, stopped chan struct{}
}

func newLease(claims Claims, id, holder string, length time.Duration, sent time.Time, log zerolog.Logger) *lease {
	l := &lease{claims: claims, id: id, holder: holder, length: length, log: log}
	l.extend(sent)
	return l
}

// renewTimeout bounds one renewal: well under the lease, so a renewal that hangs (a
// gateway retrying for minutes) is abandoned while the claim is still held.
func (l *lease) renewTimeout() time.Duration { return l.length / 4 }

// margin is how long before the store's expiry this wrapper stops counting on the claim.
func (l *lease) margin() time.Duration { return l.length / 8 }

// extend records a successful claim or renewal sent at sent.
func (l *lease) extend(sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if u := sent.Add(l.length - l.margin()); u.After(l.until) {
		l.until = u
	}
}

func (l *lease) remaining() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Until(l.until)
}

// err is the loss, once the claim is lost.
func (l *lease) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// lose marks the claim lost (once) and cancels the job with the loss as its cause.
func (l *lease) lose(why string) error {
	l.mu.Lock()
	if l.lost == nil {
		l.lost = fault.Transient(fmt.Errorf("%w on job %s (holder %s): %s", ErrClaimLost, l.id, l.holder, why))
		l.log.Error().Err(l.lost).Msg("claim lost: stopping the job")
		if l.cancel != nil {
			l.cancel(l.lost)
		}
	}
	err := l.lost
	l.mu.Unlock()
	return err
}

// refused reports whether a renewal failed because the store said no (the claim is
// another holder's), rather than because it could not be reached in time.
func refused(err error) bool {
	return err != nil && !fault.IsTransient(err) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// start runs the heartbeat until stopRelease; cancel is the job context's.
func (l *lease) start(ctx context.Context, cancel context.CancelCauseFunc) {
	l.cancel = cancel
	l.stop, l.stopped = make(chan struct{}), make(chan struct{})
	go l.heartbeat(ctx)
}

type renewal struct {
	sent time.Time
	err  error
}

func (l *lease) heartbeat(ctx context.Context) {
	defer close(l.stopped)
	hctx, cancel := context.WithCancel(ctx)
	defer cancel() // abandons a renewal still in flight
	tick := time.NewTicker(l.length / 3)
	defer tick.Stop()
	expiry := time.NewTimer(l.remaining())
	defer expiry.Stop()
	results := make(chan renewal, 1)
	renewing := false
	for {
		select {
		case <-l.stop:
			return
		case <-ctx.Done():
			return
		case <-expiry.C:
			if d := l.remaining(); d > 0 {
				expiry.Reset(d)
				continue
			}
			l.lose(fmt.Sprintf("not renewed within its lease of %s", l.length))
			return
		case <-tick.C:
			if renewing {
				continue // the last renewal is still out; its deadline ends it
			}
			renewing = true
			go func() {
				sent := time.Now()
				rctx, cancel := context.WithTimeout(hctx, l.renewTimeout())
				defer cancel()
				results <- renewal{sent, l.claims.Renew(rctx, l.id, l.holder, l.length)}
			}()
		case r := <-results:
			renewing = false
			switch {
			case r.err == nil:
				l.extend(r.sent)
			case refused(r.err):
				l.lose(fmt.Sprintf("renewal refused: %v", r.err))
				return
			default:
				l.log.Warn().Err(r.err).Dur("left", l.remaining()).Msg("renewing claim failed; retrying while the lease lasts")
			}
		}
	}
}

// confirm makes sure, before a step only the holder may take (uploading into the prefix, writing
// the record), that the claim is held and will be for a good while yet: at least half the
// lease of the time this wrapper counts on. A job that started or renewed its claim less
// than 3/8 of a lease ago (any job shorter than that) takes the step without a request;
// otherwise the claim is renewed now, within the renewal deadline. No other holder can take
// the claim over before the store's expiry, which is then at least lease/2 + lease/8 away:
// the margin covers a pause of the process or a skewed clock between the check and the
// step, as the margin after a renewal would. An error (transient, ErrClaimLost) means the
// claim is not known to be held and the step must not be taken.
func (l *lease) confirm(ctx context.Context, step string) error {
	if err := l.err(); err != nil {
		return err
	}
	if l.remaining() > l.length/2 {
		return nil
	}
	sent := time.Now()
	rctx, cancel := context.WithTimeout(ctx, l.renewTimeout())
	defer cancel()
	err := l.claims.Renew(rctx, l.id, l.holder, l.length)
	switch {
	case err == nil:
		l.extend(sent)
		return nil
	case ctx.Err() != nil:
		return context.Cause(ctx)
	case refused(err):
		return l.lose(fmt.Sprintf("renewal before %s refused: %v", step, err))
	default:
		return fault.Transient(fmt.Errorf("%w on job %s: could not confirm it before %s: %v", ErrClaimLost, l.id, step, err))
	}
}

// stopRenewing stops the heartbeat.
func (l *lease) stopRenewing() {
	if l.stop != nil {
		close(l.stop)
		<-l.stopped
	}
}

// releaseBatch is the most claims one release request names.
const releaseBatch = 500

// releaseClaims releases every claim the run took, in one request per releaseBatch claims,
// each bounded like a renewal (lease/4), even when ctx is cancelled (an interrupted run
// still frees its jobs for the retry). A claim that fails to go is logged: it expires.
// Releasing at the end rather than per job saves a request per job; a finished job's claim
// held a little longer keeps nobody waiting, since its record exists.
func (r *runner) releaseClaims(ctx context.Context) {
	r.mu.Lock()
	ids := r.claimed
	r.claimed = nil
	r.mu.Unlock()
	for len(ids) > 0 {
		n := min(len(ids), releaseBatch)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.Lease/4)
		if err := r.deps.Claims.Release(rctx, r.cfg.Holder, ids[:n]); err != nil {
			r.deps.Log.Warn().Err(err).Int("claims", n).Msg("releasing claims (they will expire)")
		}
		cancel()
		ids = ids[n:]
	}
}

// claimStopped turns the error of a job whose claim was lost into a transient one (the
// analysis may have returned a cancellation, or a failure caused by it): exit 75, not
// 130 or 1. An interrupted run (ctx cancelled) keeps its error.
func claimStopped(ctx, jobCtx context.Context, err error) error {
	if err == nil || ctx.Err() != nil {
		return err
	}
	cause := context.Cause(jobCtx)
	if !errors.Is(cause, ErrClaimLost) || (errors.Is(err, ErrClaimLost) && fault.IsTransient(err) && !errors.Is(err, context.Canceled)) {
		return err
	}
	// err is not wrapped: it may hold context.Canceled, which would mean "interrupted".
	return fault.Transient(fmt.Errorf("%w (the job stopped: %v)", cause, err))
}
