package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// soakSupported is nil where the soak can run: it reads the server's
// figures from /proc.
var soakSupported error

// procFigures returns the resident set (VmRSS) and the count of open
// descriptors of process pid.
func procFigures(pid int) (rss int64, fds int, err error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	rss = -1
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:")); ok {
			// "VmRSS:	  123456 kB"
			f := bytes.Fields(v)
			if len(f) != 2 || string(f[1]) != "kB" {
				return 0, 0, fmt.Errorf("/proc/%d/status: unexpected VmRSS line %q", pid, sc.Text())
			}
			kb, err := strconv.ParseInt(string(f[0]), 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("/proc/%d/status: %w", pid, err)
			}
			rss = kb << 10
		}
	}
	if rss < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status has no VmRSS line", pid)
	}
	d, err := os.Open(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, 0, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return 0, 0, err
	}
	return rss, len(names), nil
}

// raiseNoFile raises this process's soft limit of open descriptors towards
// want, as far as the hard limit allows, and returns the soft limit.
func raiseNoFile(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur >= want {
		return lim.Cur, nil
	}
	lim.Cur = min(want, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}

// dieWithParent makes cmd's process get SIGKILL when this one dies, so a
// crashed or killed soak leaves no server behind, and puts it in a process
// group of its own, so that a Ctrl-C reaches the soak alone, which then
// stops the server in order.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

// smallReceiveBuffer sets the receive buffer of a socket before it
// connects, so that a reader that never reads stalls its sender quickly.
func smallReceiveBuffer(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	})
	if err != nil {
		return err
	}
	return serr
}
