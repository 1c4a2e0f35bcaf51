package qe

import (
	"errors"
	"io"
)

// errRangeUnavailable is returned until range encoding (internal/qe/rangeenc) is wired in.
var errRangeUnavailable = errors.New("qe: range payloads need internal/qe/rangeenc, which is not available yet")

func (p *Placeholder) encryptRangeInsert(keys KeyFunc, rng io.Reader) ([]byte, error) {
	return nil, errRangeUnavailable
}

func (p *Placeholder) encryptRangeFind(keys KeyFunc) ([]byte, error) {
	return nil, errRangeUnavailable
}
