package kmip

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

const (
	// DefaultTimeout bounds one KMIP exchange (connect, TLS handshake, request and reply) when
	// the context has no deadline, as the driver bounds its KMS exchanges.
	DefaultTimeout = 10 * time.Second
	// maxMessageLen caps the length of a reply read from the wire. The replies the provider
	// reads are a few hundred bytes.
	maxMessageLen = 1 << 20
)

// roundTrip sends one request message to addr on a new TLS connection and returns the reply
// message, header included. It reads exactly the length the reply header announces.
func (p *Provider) roundTrip(ctx context.Context, addr string, req []byte) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	d := tls.Dialer{Config: p.tls}
	c, err := d.DialContext(ctx, "tcp", addr)
	dl, _ := ctx.Deadline()
	if err != nil {
		if cerr := contextErr(ctx, dl); cerr != nil {
			return nil, fmt.Errorf("connecting to %s: %w", addr, errors.Join(cerr, err))
		}
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	defer c.Close()
	if err := c.SetDeadline(dl); err != nil {
		return nil, err
	}
	// A cancelled context interrupts a blocked read or write.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	reply, err := exchange(c, req)
	if err != nil {
		if cerr := contextErr(ctx, dl); cerr != nil {
			return nil, fmt.Errorf("%s: %w", addr, errors.Join(cerr, err))
		}
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	return reply, nil
}

// contextErr returns the error of a context that is done or whose deadline dl has passed: the
// connection's deadline, set to dl, may fire before the context's own timer.
func contextErr(ctx context.Context, dl time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// errReplyTooLarge reports a reply whose header announces more than maxMessageLen bytes; it is
// refused before anything more is read.
var errReplyTooLarge = errors.New("reply too large")

// exchange writes req to rw and reads one reply:
//
//	tag (3) = ResponseMessage || type (1) = Structure || length (4) || value (length)
func exchange(rw io.ReadWriter, req []byte) ([]byte, error) {
	if _, err := rw.Write(req); err != nil {
		return nil, fmt.Errorf("sending request: %w", err)
	}
	var h [headerLen]byte
	if _, err := io.ReadFull(rw, h[:]); err != nil {
		return nil, fmt.Errorf("reading reply header: %w", err)
	}
	if t := tag(uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2])); t != tagResponseMessage || itemType(h[3]) != typeStructure {
		return nil, fmt.Errorf("reply starts with %s %s, not a ResponseMessage structure", t, itemType(h[3]))
	}
	n := binary.BigEndian.Uint32(h[4:])
	if n > maxMessageLen {
		return nil, fmt.Errorf("%w: it announces %d bytes, more than the %d accepted", errReplyTooLarge, n, maxMessageLen)
	}
	msg := make([]byte, headerLen+int(n))
	copy(msg, h[:])
	if _, err := io.ReadFull(rw, msg[headerLen:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("reply truncated: connection closed inside a %d-byte message: %w", n, err)
		}
		return nil, fmt.Errorf("reading reply: %w", err)
	}
	return msg, nil
}
