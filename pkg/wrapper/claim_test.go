package wrapper

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// countingClaims counts renewals and answers them with err.
type countingClaims struct {
	fakeClaims
	renews int
	err    error
}

func (c *countingClaims) Renew(context.Context, string, string, time.Duration) error {
	c.renews++
	return c.err
}

// TestConfirm: a step only the holder may take goes ahead without a request while the
// claim is known to be held for more than half a lease, and renews the claim first
// otherwise; a refused renewal loses the claim, one that cannot be sent does not confirm it.
func TestConfirm(t *testing.T) {
	const lease = time.Minute
	tests := []struct {
		name       string
		age        time.Duration // since the claim or its last renewal was sent
		renewErr   error
		wantRenews int
		wantErr    error // nil, or ErrClaimLost
		wantLost   bool  // the lease is lost for good (the job is cancelled)
	}{
		{"just claimed", time.Second, nil, 0, nil, false},
		{"claimed 3/8 of a lease ago, less a second", 3*lease/8 - time.Second, nil, 0, nil, false},
		{"claimed half a lease ago", lease / 2, nil, 1, nil, false},
		{"half a lease ago, the renewal refused", lease / 2, fault.Permanent(errors.New("another holder")), 1, ErrClaimLost, true},
		{"half a lease ago, DocDB unreachable", lease / 2, fault.Transient(errors.New("down")), 1, ErrClaimLost, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims := &countingClaims{err: tt.renewErr}
			l := newLease(claims, "h", "me", lease, time.Now().Add(-tt.age), zerolog.Nop())
			err := l.confirm(context.Background(), "writing the record")
			if claims.renews != tt.wantRenews || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("confirm: %v after %d renewals; want %v after %d", err, claims.renews, tt.wantErr, tt.wantRenews)
			}
			if err != nil && !fault.IsTransient(err) {
				t.Errorf("%v: a claim not known to be held must fail the job transiently", err)
			}
			if (l.err() != nil) != tt.wantLost {
				t.Errorf("lease lost: %v, want %v", l.err(), tt.wantLost)
			}
			if tt.wantErr == nil && l.remaining() <= lease/2 {
				t.Errorf("confirmed with %s of the lease left", l.remaining())
			}
		})
	}
}
