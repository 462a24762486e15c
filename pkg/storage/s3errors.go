package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/allenneuraldynamics/aind-analysis-go/pkg/fault"
)

// S3 error codes classify sorts by hand; the SDK's retry sets cover the rest.
var (
	s3NotFoundCodes  = map[string]bool{"NoSuchKey": true, "NotFound": true}
	s3ExistsCodes    = map[string]bool{"PreconditionFailed": true, "ConditionalRequestConflict": true}
	s3TransientCodes = map[string]bool{
		"InternalError": true, "ServiceUnavailable": true, "SlowDown": true,
		"RequestTimeout": true, "RequestTimeoutException": true,
		// The body S3 received does not match the checksum sent with it, computed from the
		// bytes in memory: they were changed on the way, and sending them again can succeed.
		"BadDigest": true,
	}
)

// classify wraps an S3 SDK error with the operation and URL and classifies it, once, after
// the SDK's own retries:
//
//   - a cancelled context: unclassified, so that callers see context.Canceled and exit as
//     interrupted (never transient, never retried);
//   - NoSuchKey, NotFound or a bare 404: permanent, IsNotFound;
//   - PreconditionFailed, 412, ConditionalRequestConflict (409): permanent, IsExists;
//   - connection errors, timeouts, 5xx, throttling (including 429), a body cut short, a
//     body that does not match its checksum (BadDigest): transient;
//   - everything else (AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch,
//     ExpiredToken, NoSuchBucket, other 4xx, local read errors): permanent.
//
// A HeadObject on a missing bucket gets a bodiless 404, so Stat reports it as not found.
func classify(op string, u URL, err error) error {
	wrapped := fmt.Errorf("%s %s: %w", op, u, err)
	if errors.Is(err, context.Canceled) {
		return wrapped
	}
	code, status := s3ErrorCode(err)
	switch {
	case s3NotFoundCodes[code] || (code == "" && status == http.StatusNotFound):
		return fault.Permanent(notFound(wrapped))
	case s3ExistsCodes[code] || status == http.StatusPreconditionFailed:
		return fault.Permanent(exists(wrapped))
	case isTransient(err, code, status):
		return fault.Transient(wrapped)
	default:
		return fault.Permanent(wrapped)
	}
}

func isTransient(err error, code string, status int) bool {
	if s3TransientCodes[code] || status >= 500 || status == http.StatusTooManyRequests {
		return true
	}
	if _, ok := retry.DefaultThrottleErrorCodes[code]; ok {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	if status != 0 {
		return false // the server answered: a 4xx is not going away
	}
	if (retry.RetryableConnectionError{}).IsErrorRetryable(err) == aws.TrueTernary {
		return true
	}
	var timeout interface{ Timeout() bool }
	return errors.As(err, &timeout) && timeout.Timeout()
}

// s3ErrorCode returns the S3 error code and HTTP status in err's chain ("" and 0 when
// absent).
func s3ErrorCode(err error) (code string, status int) {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	return code, status
}

// isNotFoundAPI reports whether a raw SDK error means the object is absent.
func isNotFoundAPI(err error) bool {
	code, status := s3ErrorCode(err)
	return s3NotFoundCodes[code] || (code == "" && status == http.StatusNotFound)
}
