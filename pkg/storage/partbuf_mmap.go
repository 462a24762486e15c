//go:build linux || darwin

package storage

import "syscall"

// allocPart returns a part buffer of size bytes mapped outside the Go heap, so that the
// collector neither scans it nor counts it when it sets how far the heap may grow (a heap
// buffer of 40 MiB let the heap, and the RSS, grow by as much again). mapped is false when
// the mapping failed and b came from the heap instead.
func allocPart(size int) (b []byte, mapped bool) {
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, size), false
	}
	return b, true
}

// freePart unmaps a buffer allocPart mapped.
func freePart(b []byte) { _ = syscall.Munmap(b) }
