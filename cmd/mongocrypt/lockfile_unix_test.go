//go:build unix

package main

import (
	"os"
	"path/filepath"
	"syscall"
)

// lockBinaryCache locks the binary cache directory of this package for building and copying
// the binary, and returns the path of the cached binary.
func lockBinaryCache() (bin string, unlock func(), err error) {
	dir, err := binaryCacheDir()
	if err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return "", nil, err
	}
	return filepath.Join(dir, "mongocrypt"), func() { f.Close() }, nil
}
