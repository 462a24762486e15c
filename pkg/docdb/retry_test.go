package docdb

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRetryPolicy(t *testing.T) {
	errTransient, errPermanent := errors.New("transient"), errors.New("permanent")
	tests := []struct {
		name      string
		failures  []error // what the tries return, in order; then nil
		cancelled bool
		wantTries int
		wantErr   error
	}{
		{"success at once", nil, false, 1, nil},
		{"transient then success", []error{errTransient, errTransient}, false, 3, nil},
		{"permanent stops at once", []error{errPermanent, errTransient}, false, 1, errPermanent},
		{"attempts run out", []error{errTransient, errTransient, errTransient, errTransient}, false, 3, errTransient},
		{"a cancelled context stops", []error{errTransient, errTransient}, true, 1, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancelled {
				cancel()
			}
			p := retryPolicy{attempts: 3, first: time.Millisecond}
			n := 0
			tries, err := p.do(ctx, func(context.Context) error {
				n++
				if n <= len(tt.failures) {
					return tt.failures[n-1]
				}
				return nil
			}, func(err error) bool { return errors.Is(err, errTransient) })
			if tries != tt.wantTries || tries != n || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("do: %d tries (ran %d), %v; want %d tries, %v", tries, n, err, tt.wantTries, tt.wantErr)
			}
		})
	}
}
