// Command guest is the runtime's test task: its first argument names what
// it does, from behaving well to attacking its sandbox.
//
// Built by the tests with GOOS=wasip1 GOARCH=wasm (see internal/wasmtest).
package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

//go:wasmimport test block
func block()

var sink []byte

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: guest SCENARIO [ARGS]")
		os.Exit(64)
	}
	arg := ""
	if len(os.Args) > 2 {
		arg = os.Args[2]
	}
	switch os.Args[1] {
	case "ok":
		fmt.Println("hello from the guest")
	case "echo":
		fmt.Println(strings.Join(os.Args[2:], " "))
		fmt.Println(os.Getenv("GREETING"))
	case "exit":
		n, _ := strconv.Atoi(arg)
		fmt.Fprintln(os.Stderr, "leaving with", n)
		os.Exit(n)
	case "panic":
		panic("something broke")
	case "trap":
		// An access far outside linear memory is a WebAssembly trap.
		p := (*byte)(unsafe.Pointer(uintptr(0xfffffff0)))
		*p = 1
	case "loop":
		x := 0
		for {
			x++
			if x == -1 {
				fmt.Println(x)
			}
		}
	case "spinok":
		// Spins before its first effect, then prints.
		n, _ := strconv.Atoi(arg)
		x := 0
		for i := 0; i < n; i++ {
			x += i ^ x>>3
		}
		fmt.Println("spun", x != 1)
	case "printloop":
		fmt.Println("looping")
		for x := 0; ; x++ {
			if x == -1 {
				fmt.Println(x)
			}
		}
	case "sleep":
		time.Sleep(time.Hour)
	case "block":
		block()
		fmt.Println("block returned")
		for {
			// The host call returned; spin until stopped.
		}
	case "membomb":
		for {
			sink = append(sink, make([]byte, 1<<20)...)
		}
	case "alloc":
		n, _ := strconv.Atoi(arg)
		b := make([]byte, n<<20)
		for i := range b {
			b[i] = 1
		}
		fmt.Println(len(b))
	case "flood":
		n, _ := strconv.Atoi(arg)
		chunk := []byte(strings.Repeat("x", 1<<16-1) + "\n")
		for i := 0; i < n<<4; i++ {
			os.Stdout.Write(chunk)
		}
	case "clock":
		fmt.Println(time.Now().UTC().Format(time.RFC3339))
		start := time.Now()
		time.Sleep(20 * time.Millisecond)
		fmt.Println(time.Since(start) >= 20*time.Millisecond)
		b := make([]byte, 16)
		rand.Read(b)
		fmt.Printf("%x\n", b)
	case "read":
		b, err := os.ReadFile(arg)
		if err != nil {
			fmt.Println("denied:", err)
			os.Exit(1)
		}
		fmt.Printf("read: %s\n", b)
	case "write":
		if err := os.WriteFile(arg, []byte("written by the guest"), 0o644); err != nil {
			fmt.Println("denied:", err)
			os.Exit(1)
		}
		fmt.Println("wrote", arg)
	case "fill":
		// Writes 1 MiB chunks to the file until a write fails.
		f, err := os.Create(arg)
		if err != nil {
			fmt.Println("create:", err)
			os.Exit(1)
		}
		chunk := make([]byte, 1<<20)
		for n := 0; ; n++ {
			if _, err := f.Write(chunk); err != nil {
				fmt.Printf("wrote %d MiB, then: %v\n", n, err)
				os.Exit(1)
			}
		}
	case "memory":
		// Prints the first non-zero byte found in the heap it is given:
		// fresh memory must be all zeros, whatever ran before.
		b := make([]byte, 32<<20)
		for i, v := range b {
			if v != 0 {
				fmt.Println("dirty at", i)
				os.Exit(1)
			}
		}
		for i := range b {
			b[i] = 0xAA
		}
		fmt.Println("clean")
	default:
		fmt.Fprintln(os.Stderr, "unknown scenario", os.Args[1])
		os.Exit(64)
	}
}
