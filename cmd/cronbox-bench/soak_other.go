//go:build !linux

package main

import (
	"errors"
	"os/exec"
	"syscall"
)

var soakSupported = errors.New("the soak reads the server's memory and descriptors from /proc: it runs on Linux only")

func procFigures(int) (int64, int, error) { return 0, 0, soakSupported }

func raiseNoFile(uint64) (uint64, error) { return 0, soakSupported }

func dieWithParent(*exec.Cmd) {}

func smallReceiveBuffer(string, string, syscall.RawConn) error { return nil }
