//go:build !linux

package main

import (
	"errors"
	"io"
	"os"
)

// readNoEcho refuses: where the echo cannot be turned off, a value is not
// typed on a terminal.
func readNoEcho(*os.File, io.Writer) (string, error) {
	return "", errors.New("stdin is a terminal, whose echo this system cannot turn off: pipe the value in instead")
}
