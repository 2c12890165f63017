// Command hello is a well-behaved task: it prints, allocates, computes, runs
// goroutines and exits with status 3. The instrumentation tests check that it
// behaves the same once instrumented.
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

func main() {
	primes := sieve(20000)
	fmt.Println("primes:", len(primes), primes[len(primes)-1])

	counts := map[string]int{}
	for i := range 5000 {
		counts[fmt.Sprint("k", i%97)] += i
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Println("keys:", strings.Join(keys[:5], ","), counts[keys[0]])

	squares := make(chan int)
	go func() {
		for i := range 100 {
			squares <- i * i
		}
		close(squares)
	}()
	sum := 0
	for v := range squares {
		sum += v
	}
	fmt.Println("sum of squares:", sum)

	fmt.Fprintln(os.Stderr, "done")
	os.Exit(3)
}

// sieve returns the primes below n.
func sieve(n int) []int {
	composite := make([]bool, n)
	var primes []int
	for i := 2; i < n; i++ {
		if composite[i] {
			continue
		}
		primes = append(primes, i)
		for j := i * i; j < n; j += i {
			composite[j] = true
		}
	}
	return primes
}
