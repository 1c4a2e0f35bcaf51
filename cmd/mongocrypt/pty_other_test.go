//go:build !linux

package main

import (
	"errors"
	"os"
)

// openPTY has no pseudo-terminal to open here.
func openPTY() (control, term *os.File, err error) {
	return nil, nil, errors.New("no pseudo-terminal on this system")
}
