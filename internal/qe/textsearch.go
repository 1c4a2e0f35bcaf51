package qe

import (
	"errors"
	"io"
)

// errTextUnavailable is returned until string encoding (internal/qe/text) is wired in.
var errTextUnavailable = errors.New("qe: text search payloads need internal/qe/text, which is not available yet")

func (p *Placeholder) encryptTextInsert(keys KeyFunc, rng io.Reader) ([]byte, error) {
	return nil, errTextUnavailable
}

func (p *Placeholder) encryptTextFind(keys KeyFunc) ([]byte, error) {
	return nil, errTextUnavailable
}
