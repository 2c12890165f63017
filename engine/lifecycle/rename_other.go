//go:build !linux

package lifecycle

import "os"

func exchange(a, b string) error { return exchangeByRenames(a, b) }

func renameNoReplace(a, b string) error {
	if _, err := os.Lstat(b); err == nil {
		return &os.LinkError{Op: "rename", Old: a, New: b, Err: os.ErrExist}
	}
	return os.Rename(a, b)
}
