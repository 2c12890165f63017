package sdk

import (
	"bytes"
	"fmt"
	"iter"
)

// KVGet returns the value stored under key, or an error matching
// [ErrNotFound] when there is none.
func KVGet(key string) ([]byte, error) {
	return fetch("kv_get", func(out []byte) (uint32, Errno) {
		return hostKVGet(key, out)
	})
}

// KVSet stores value under key, replacing any previous value. The error is
// [ErrInvalid] for an empty key or one that is not UTF-8 or holds a NUL byte,
// and [ErrTooLarge] for a key over 512 bytes or a value over 1 MiB.
func KVSet(key string, value []byte) error {
	return check("kv_set", hostKVSet(key, value))
}

// KVDelete removes key. Removing an absent key is not an error.
func KVDelete(key string) error {
	return check("kv_delete", hostKVDelete(key))
}

// KVKeys returns an iterator over the keys that start with prefix, in
// ascending byte order. It fetches the keys from the host a page at a time.
// When fetching fails, the iterator yields the error, with an empty key, and
// stops.
func KVKeys(prefix string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		after := ""
		for {
			page, err := fetch("kv_list", func(out []byte) (uint32, Errno) {
				return hostKVList(prefix, after, out)
			})
			if err != nil {
				yield("", err)
				return
			}
			if len(page) == 0 {
				return
			}
			last := after
			if page[len(page)-1] == 0 {
				for k := range bytes.SplitSeq(page[:len(page)-1], []byte{0}) {
					after = string(k)
					if !yield(after, nil) {
						return
					}
				}
			}
			if after <= last {
				// A host that breaks the paging contract would make
				// this loop run forever.
				yield("", &CallError{Op: "kv_list", Code: ErrIO,
					Message: fmt.Sprintf("malformed page of keys after %q", last)})
				return
			}
		}
	}
}

// KVList returns the keys that start with prefix, in ascending byte order.
func KVList(prefix string) ([]string, error) {
	var keys []string
	for k, err := range KVKeys(prefix) {
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}
