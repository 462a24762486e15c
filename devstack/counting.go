package main

import (
	"errors"
	"fmt"
	"net/url"
)

// startCounting starts what --count-requests adds: the counters, the Mongo wire front on
// the DocDB port, the S3 front on the S3 port (FerretDB and versitygw then listen on free
// ports behind them) and the endpoint that serves the counts.
func (st *stack) startCounting(cfg stackConfig) error {
	st.counts = newRequestCounts()
	u, err := url.Parse(st.docdbURI)
	if err != nil {
		return fmt.Errorf("FerretDB URI %q: %w", st.docdbURI, err)
	}
	if st.wireFront, err = startWireFront(st.log, st.counts, cfg.docdbPort, u.Host); err != nil {
		return err
	}
	if st.s3Front, err = startS3Front(st.log, st.counts, cfg.s3Port, st.s3Endpoint); err != nil {
		return err
	}
	if st.countsSrv, err = startCountsServer(st.log, st.counts, cfg.requestsPort); err != nil {
		return err
	}
	return nil
}

// stopCounting stops the fronts and the counts endpoint; safe when they never started.
func (st *stack) stopCounting() error {
	var errs []error
	if st.countsSrv != nil {
		if err := st.countsSrv.stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop the request counts endpoint: %w", err))
		}
		st.countsSrv = nil
	}
	if st.s3Front != nil {
		if err := st.s3Front.stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop the S3 front: %w", err))
		}
		st.s3Front = nil
	}
	if st.wireFront != nil {
		if err := st.wireFront.stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop the Mongo wire front: %w", err))
		}
		st.wireFront = nil
	}
	return errors.Join(errs...)
}

// clientDocDBURI is the DocDB URI clients are given: the Mongo wire front's when counting,
// else FerretDB's.
func (st *stack) clientDocDBURI() string {
	if st.wireFront != nil {
		return "mongodb://" + st.wireFront.addr + "/"
	}
	return st.docdbURI
}

// clientS3Endpoint is the S3 endpoint clients are given: the S3 front's when counting,
// else versitygw's.
func (st *stack) clientS3Endpoint() string {
	if st.s3Front != nil {
		return "http://" + st.s3Front.addr
	}
	return st.s3Endpoint
}
