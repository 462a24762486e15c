//go:build unix

package chatter

import (
	"bufio"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

func capture(prefixes []string, fn func()) (lines []string) {
	saved, err := unix.Dup(2)
	if err != nil {
		fn()
		return nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		unix.Close(saved)
		fn()
		return nil
	}
	if err := unix.Dup2(int(w.Fd()), 2); err != nil {
		r.Close()
		w.Close()
		unix.Close(saved)
		fn()
		return nil
	}
	done := make(chan []string)
	go func() {
		var got []string
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			got = append(got, sc.Text())
		}
		r.Close()
		done <- got
	}()
	defer func() {
		// Restore first: a panic in fn then prints on the real standard error.
		_ = unix.Dup2(saved, 2)
		unix.Close(saved)
		w.Close()
		for _, l := range <-done {
			if hasPrefix(l, prefixes) {
				lines = append(lines, l)
			} else {
				os.Stderr.WriteString(l + "\n")
			}
		}
	}()
	fn()
	return nil
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
