package jailfs

import "syscall"

// osErrno is the type of the errors system calls return.
type osErrno = syscall.ErrorString
