package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/mongocrypt-go/mongocrypt/internal/wire"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// conn is one client connection and its own connection to the server.
type conn struct {
	s        *Server
	client   net.Conn
	upstream net.Conn

	mu       sync.Mutex
	busy     bool // serving a message
	stopping bool // Shutdown: finish the message being served, then close
	ctx      context.Context
	cancel   context.CancelFunc
}

// errUpstream ends a connection whose server connection failed: the client's authentication
// and cursors lived on it, so the client must connect again.
var errUpstream = errors.New("proxy: the connection to the server failed")

func (c *conn) serve() {
	c.ctx, c.cancel = context.WithCancel(context.Background())
	defer c.closeAll()
	log := c.s.log.With("client", c.client.RemoteAddr().String())
	log.Debug("client connected")
	defer log.Debug("client disconnected")
	for {
		if !c.setBusy(false) {
			return
		}
		m, err := wire.ReadMessage(c.client, wire.DefaultMaxMessageSize)
		if err != nil {
			return // io.EOF, a closed connection, a length out of bounds: nothing to answer
		}
		if !c.setBusy(true) {
			return
		}
		if err := c.handle(m); err != nil {
			if !errors.Is(err, errUpstream) {
				log.Debug("connection closed", "err", err.Error())
			}
			return
		}
	}
}

// setBusy records whether a message is being served and reports whether the connection goes
// on (false once Shutdown asked it to stop).
func (c *conn) setBusy(b bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy = b
	return !c.stopping
}

// stop asks the connection to close after the message it is serving; an idle one closes now.
func (c *conn) stop() {
	c.mu.Lock()
	c.stopping = true
	busy := c.busy
	c.mu.Unlock()
	if !busy {
		c.client.Close()
	}
}

func (c *conn) closeAll() {
	c.client.Close()
	c.mu.Lock()
	if c.cancel != nil {
		c.cancel()
	}
	up := c.upstream
	c.mu.Unlock()
	if up != nil {
		up.Close()
	}
}

// handle answers one message of the client.
func (c *conn) handle(m []byte) error {
	p, err := wire.Parse(m)
	if err != nil {
		h, herr := wire.ParseHeader(m)
		if herr != nil {
			return err
		}
		code, name := int32(codeFailedToParse), "FailedToParse"
		var uo *wire.UnsupportedOpCodeError
		if errors.As(err, &uo) || errors.Is(err, wire.ErrCompressed) {
			code, name = codeUnsupportedOpCode, "UnsupportedOpQueryCommand"
		}
		return c.reply(h.RequestID, errorReply(code, name, "mongocrypt proxy: "+err.Error()))
	}
	switch {
	case p.Msg != nil:
		return c.handleMsg(p.Header, p.Msg)
	case p.Query != nil:
		return c.handleQuery(m, p.Header, p.Query)
	}
	return c.reply(p.Header.RequestID, errorReply(codeUnsupportedOpCode, "UnsupportedOpQueryCommand",
		fmt.Sprintf("mongocrypt proxy: a client sent %s, which it does not take", p.Header.OpCode)))
}

// reply writes an OP_MSG reply with body to the client.
func (c *conn) reply(responseTo int32, body bson.Raw) error {
	return wire.WriteMsg(c.client, c.s.requestID(), responseTo, &wire.Msg{Body: body})
}

// handleMsg encrypts a command, sends it, and decrypts the reply.
func (c *conn) handleMsg(h wire.Header, msg *wire.Msg) error {
	moreToCome := msg.Flags&wire.MoreToCome != 0
	answer := func(body bson.Raw) error {
		if moreToCome {
			return nil
		}
		return c.reply(h.RequestID, body)
	}
	cmd, err := msg.Command()
	if err != nil {
		return answer(errorReply(codeFailedToParse, "FailedToParse", "mongocrypt proxy: "+err.Error()))
	}
	first, err := cmd.IndexErr(0)
	if err != nil {
		return answer(errorReply(codeFailedToParse, "FailedToParse", "mongocrypt proxy: the command document is empty"))
	}
	name := first.Key()
	db, _ := cmd.Lookup("$db").StringValueOK()
	bare, envelope := splitEnvelope(cmd)
	enc, err := c.s.cfg.Encrypter.Encrypt(c.ctx, db, bare)
	if err != nil {
		// The library's errors name fields and reasons, never values.
		c.s.log.Info("command refused", "command", name, "database", db, "err", err.Error())
		return answer(errorReply(codeBadValue, "BadValue", "mongocrypt proxy: "+err.Error()))
	}
	enc = appendElements(enc, envelope)
	out := &wire.Msg{Flags: msg.Flags & wire.MoreToCome}
	if out.Body, out.Sequences, err = wire.SplitSequences(enc, msg.Sequences); err != nil {
		return answer(errorReply(codeBadValue, "BadValue", "mongocrypt proxy: "+err.Error()))
	}
	b, err := out.Append(nil, c.s.requestID(), 0)
	if err != nil {
		return answer(errorReply(codeBadValue, "BadValue", "mongocrypt proxy: "+err.Error()))
	}
	// Encryption makes values larger: a batch the client sized for the server's limits may
	// outgrow them. It is refused whole, never split (a split would change a retryable
	// write's statement numbering) and never sent half.
	if e := c.s.checkLimits(name, out.Body, out.Sequences, len(b)); e != "" {
		c.s.log.Info("command refused", "command", name, "database", db, "err", e)
		return answer(errorReply(codeBSONObjectTooLarge, "BSONObjectTooLarge", "mongocrypt proxy: "+e))
	}
	rep, err := c.roundTrip(b, moreToCome)
	if err != nil {
		_ = answer(errorReply(codeHostUnreachable, "HostUnreachable", "mongocrypt proxy: the server: "+err.Error()))
		return errUpstream
	}
	if moreToCome {
		return nil
	}
	rm, err := wire.ParseMsg(rep)
	if err != nil {
		_ = answer(errorReply(codeFailedToParse, "FailedToParse", "mongocrypt proxy: the server's reply: "+err.Error()))
		return errUpstream
	}
	body, err := c.s.cfg.Encrypter.Decrypt(c.ctx, rm.Body)
	if err != nil {
		c.s.log.Info("reply not decrypted", "command", name, "database", db, "err", err.Error())
		return answer(errorReply(codeBadValue, "BadValue", "mongocrypt proxy: decrypting the reply: "+err.Error()))
	}
	if isHello(name) {
		body = withoutField(body, "compression")
		c.s.learnLimits(body)
	}
	return answer(body)
}

// roundTrip sends b to the server, dialing first when needed, and returns its reply (none
// when moreToCome).
func (c *conn) roundTrip(b []byte, moreToCome bool) ([]byte, error) {
	up, err := c.dial()
	if err != nil {
		return nil, err
	}
	if _, err := up.Write(b); err != nil {
		c.s.log.Warn("writing to the server failed", "err", err.Error())
		return nil, err
	}
	if moreToCome {
		return nil, nil
	}
	rep, err := wire.ReadMessage(up, wire.DefaultMaxMessageSize+16*1024)
	if err != nil {
		c.s.log.Warn("reading from the server failed", "err", err.Error())
		return nil, err
	}
	return rep, nil
}

func (c *conn) dial() (net.Conn, error) {
	c.mu.Lock()
	up := c.upstream
	c.mu.Unlock()
	if up != nil {
		return up, nil
	}
	addr := c.s.cfg.Upstream
	if c.s.cfg.Resolve != nil {
		ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.DialTimeout)
		a, err := c.s.cfg.Resolve(ctx)
		cancel()
		if err != nil {
			c.s.log.Warn("finding the server failed", "err", err.Error())
			return nil, err
		}
		addr = a
	}
	d := &net.Dialer{Timeout: c.s.cfg.DialTimeout}
	var err error
	if c.s.cfg.UpstreamTLS != nil {
		up, err = (&tls.Dialer{NetDialer: d, Config: c.s.cfg.UpstreamTLS}).DialContext(c.ctx, "tcp", addr)
	} else {
		up, err = d.DialContext(c.ctx, "tcp", addr)
	}
	if err != nil {
		c.s.log.Warn("connecting to the server failed", "upstream", addr, "err", err.Error())
		return nil, err
	}
	c.mu.Lock()
	c.upstream = up
	c.mu.Unlock()
	return up, nil
}

// handleQuery forwards the legacy OP_QUERY handshake (hello or isMaster on a $cmd
// collection) and refuses any other OP_QUERY, as MongoDB 6.0 and later do.
func (c *conn) handleQuery(m []byte, h wire.Header, q *wire.Query) error {
	cmd := q.Query
	if inner, ok := cmd.Lookup("$query").DocumentOK(); ok {
		cmd = inner
	}
	first, err := cmd.IndexErr(0)
	if err != nil || !strings.HasSuffix(q.FullCollectionName, ".$cmd") || !isHello(first.Key()) {
		doc, _ := bson.Marshal(bson.D{{Key: "$err", Value: "mongocrypt proxy: OP_QUERY is only taken for the hello handshake; use OP_MSG"},
			{Key: "code", Value: int32(codeUnsupportedOpCode)}, {Key: "ok", Value: 0.0}})
		return wire.WriteReply(c.client, c.s.requestID(), h.RequestID, doc)
	}
	rep, err := c.roundTrip(m, false)
	if err != nil {
		return errUpstream
	}
	p, err := wire.Parse(rep)
	if err != nil || p.Reply == nil || len(p.Reply.Documents) != 1 {
		return errUpstream
	}
	return wire.WriteReply(c.client, c.s.requestID(), h.RequestID, withoutField(p.Reply.Documents[0], "compression"))
}

func isHello(name string) bool {
	return name == "hello" || name == "isMaster" || name == "ismaster"
}

// withoutField returns doc without its top-level field key.
func withoutField(doc bson.Raw, key string) bson.Raw {
	if _, err := doc.LookupErr(key); err != nil {
		return doc
	}
	elems, err := doc.Elements()
	if err != nil {
		return doc
	}
	idx, out := bsoncore.AppendDocumentStart(nil)
	for _, e := range elems {
		if e.Key() != key {
			out = append(out, e...)
		}
	}
	out, _ = bsoncore.AppendDocumentEnd(out, idx)
	return out
}

// envelopeFields are the fields a driver adds to a command after automatic encryption (its
// session, transaction, concerns, cluster time, API version, time limit, database and read
// preference): the AutoEncrypter sees a command without them, as in a driver, and the proxy
// puts them back on the encrypted command.
var envelopeFields = map[string]bool{
	"readConcern": true, "writeConcern": true, "lsid": true, "txnNumber": true, "startTransaction": true,
	"autocommit": true, "$clusterTime": true, "apiVersion": true, "apiStrict": true,
	"apiDeprecationErrors": true, "maxTimeMS": true, "$db": true, "$readPreference": true,
}

// splitEnvelope returns cmd without its envelope fields, and those fields.
func splitEnvelope(cmd bson.Raw) (bson.Raw, []bsoncore.Element) {
	elems, err := bsoncore.Document(cmd).Elements()
	if err != nil {
		return cmd, nil
	}
	var env []bsoncore.Element
	idx, out := bsoncore.AppendDocumentStart(nil)
	for i, e := range elems {
		if i > 0 && envelopeFields[e.Key()] {
			env = append(env, e)
			continue
		}
		out = append(out, e...)
	}
	if len(env) == 0 {
		return cmd, nil
	}
	out, _ = bsoncore.AppendDocumentEnd(out, idx)
	return out, env
}

// appendElements returns doc with the elements appended that it does not have already.
func appendElements(doc bson.Raw, elems []bsoncore.Element) bson.Raw {
	if len(elems) == 0 {
		return doc
	}
	out := append([]byte(nil), doc[:len(doc)-1]...)
	for _, e := range elems {
		if _, err := doc.LookupErr(e.Key()); err == nil {
			continue
		}
		out = append(out, e...)
	}
	out = append(out, 0)
	return bsoncore.UpdateLength(out, 0, int32(len(out)))
}
