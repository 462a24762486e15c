//go:build !linux && !darwin

package storage

// allocPart returns a part buffer of size bytes from the Go heap (mapped is always false
// here; see the Linux and macOS version).
func allocPart(size int) (b []byte, mapped bool) { return make([]byte, size), false }

// freePart is never called here: no buffer is mapped.
func freePart([]byte) {}
