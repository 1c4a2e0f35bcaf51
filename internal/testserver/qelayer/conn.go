package qelayer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/mongocrypt-go/mongocrypt/internal/wire"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// session is one client connection and its own connection to FerretDB. Its messages are
// answered one at a time, in order, so a handler may send FerretDB commands of its own on the
// backend connection between reading a request and answering it.
type session struct {
	layer   *Layer
	ln      *listener
	client  net.Conn
	backend net.Conn
	lastID  int32            // the requestID of the layer's last message on either connection
	cursors map[int64]string // listCollections cursors open on this connection -> their database
}

// request is a client's OP_MSG as the handlers see it.
type request struct {
	raw  []byte      // the message as read
	hdr  wire.Header // its header
	msg  *wire.Msg   // its parsed content
	cmd  bson.Raw    // the body with the document sequences merged in as arrays
	name string      // the command's name, the first key of the body
	db   string      // $db
}

// moreToCome tells whether the client expects no reply (an unacknowledged write).
func (r *request) moreToCome() bool { return r.msg.Flags&wire.MoreToCome != 0 }

// errPassThrough is returned by a handler that leaves the command to FerretDB as it is.
var errPassThrough = errors.New("qelayer: pass through")

// handler answers a command: a reply body, a *cmdError for the client, errPassThrough, or
// another error, which closes the connection.
type handler func(ctx context.Context, s *session, r *request) (bson.Raw, error)

func (s *session) nextID() int32 {
	s.lastID++
	if s.lastID <= 0 {
		s.lastID = 1
	}
	return s.lastID
}

// handle answers one message read from the client. An error closes the connection.
func (s *session) handle(ctx context.Context, m []byte) error {
	p, err := wire.Parse(m)
	if err != nil {
		h, herr := wire.ParseHeader(m)
		if herr != nil {
			return err
		}
		code := int32(codeFailedToParse)
		var uo *wire.UnsupportedOpCodeError
		if errors.As(err, &uo) || errors.Is(err, wire.ErrCompressed) {
			code = codeUnsupportedOpCode
		}
		return s.writeMsg(h.RequestID, 0, errorf(code, "%v", err).reply())
	}
	switch {
	case p.Msg != nil:
		return s.handleMsg(ctx, m, p.Header, p.Msg)
	case p.Query != nil:
		return s.handleQuery(m, p.Header, p.Query)
	default:
		return s.writeMsg(p.Header.RequestID, 0, errorf(codeUnsupportedOpCode, "qelayer: a client sent %s", p.Header.OpCode).reply())
	}
}

func (s *session) handleMsg(ctx context.Context, m []byte, h wire.Header, msg *wire.Msg) error {
	r := &request{raw: m, hdr: h, msg: msg}
	cmd, err := msg.Command()
	if err != nil {
		return s.answer(r, nil, errorf(codeFailedToParse, "qelayer: %v", err))
	}
	r.cmd = cmd
	first, err := cmd.IndexErr(0)
	if err != nil {
		return s.answer(r, nil, errorf(codeFailedToParse, "qelayer: the command document is empty"))
	}
	r.name = first.Key()
	r.db, _ = cmd.Lookup("$db").StringValueOK()
	if e := refuseTransaction(r); e != nil {
		return s.answer(r, nil, e)
	}
	if err := s.adaptForFerretDB(r); err != nil {
		return s.answer(r, nil, err)
	}
	if done, body, err := s.qeRewrite(ctx, r); done {
		return s.answer(r, body, err)
	}
	hf, ok := handlers[r.name]
	if !ok {
		return s.passThrough(r.raw, r.moreToCome())
	}
	body, err := hf(ctx, s, r)
	if errors.Is(err, errPassThrough) {
		return s.passThrough(r.raw, r.moreToCome())
	}
	return s.answer(r, body, err)
}

// answer writes the reply body, or the error reply of a *cmdError, to the client; another
// error is returned (and closes the connection).
func (s *session) answer(r *request, body bson.Raw, err error) error {
	if err != nil {
		var ce *cmdError
		if !errors.As(err, &ce) {
			return err
		}
		body = ce.reply()
	}
	if r.moreToCome() {
		return nil
	}
	return s.writeMsg(r.hdr.RequestID, r.msg.Flags&wire.ChecksumPresent, body)
}

// writeMsg writes an OP_MSG with body to the client.
func (s *session) writeMsg(responseTo int32, flags wire.Flags, body bson.Raw) error {
	return wire.WriteMsg(s.client, s.nextID(), responseTo, &wire.Msg{Flags: flags, Body: body})
}

// passThrough sends m to FerretDB as it is and copies its replies to the client as they are:
// none when the client set moreToCome, several while FerretDB sets moreToCome (exhaust).
func (s *session) passThrough(m []byte, moreToCome bool) error {
	if _, err := s.backend.Write(m); err != nil {
		return err
	}
	if moreToCome {
		return nil
	}
	for {
		rep, err := wire.ReadMessage(s.backend, s.layer.maxMsg)
		if err != nil {
			return err
		}
		if _, err := s.client.Write(rep); err != nil {
			return err
		}
		h, err := wire.ParseHeader(rep)
		if err != nil || h.OpCode != wire.OpMsg {
			return err
		}
		rm, err := wire.ParseMsg(rep)
		if err != nil || rm.Flags&wire.MoreToCome == 0 {
			return nil
		}
	}
}

// roundTrip sends the message m to FerretDB and returns its one reply.
func (s *session) roundTrip(m []byte) ([]byte, error) {
	if _, err := s.backend.Write(m); err != nil {
		return nil, err
	}
	return wire.ReadMessage(s.backend, s.layer.maxMsg)
}

// forward sends the client's command to FerretDB, as it is when body is nil, else with body as
// its body (and no document sequences), and returns the body of FerretDB's reply.
func (s *session) forward(r *request, body bson.Raw) (bson.Raw, error) {
	m := r.raw
	if body != nil || r.moreToCome() {
		if body == nil {
			body = r.cmd
		}
		var err error
		m, err = (&wire.Msg{Flags: r.msg.Flags &^ wire.MoreToCome, Body: body}).Append(nil, s.nextID(), 0)
		if err != nil {
			return nil, errorf(codeBadValue, "qelayer: %v", err)
		}
	}
	rep, err := s.roundTrip(m)
	if err != nil {
		return nil, err
	}
	rm, err := wire.ParseMsg(rep)
	if err != nil {
		return nil, fmt.Errorf("qelayer: FerretDB's reply: %w", err)
	}
	return rm.Body, nil
}

// command runs a command of the layer's own on FerretDB, in database db, on this session's
// backend connection, and returns FerretDB's reply; a reply with ok: 0 is returned as a
// *cmdError with FerretDB's code and message.
func (s *session) command(db string, cmd bson.D) (bson.Raw, error) {
	cmd = append(cmd, bson.E{Key: "$db", Value: db})
	m, err := (&wire.Msg{Body: rawDoc(cmd)}).Append(nil, s.nextID(), 0)
	if err != nil {
		return nil, err
	}
	rep, err := s.roundTrip(m)
	if err != nil {
		return nil, err
	}
	rm, err := wire.ParseMsg(rep)
	if err != nil {
		return nil, fmt.Errorf("qelayer: FerretDB's reply: %w", err)
	}
	if e := replyError(rm.Body); e != nil {
		return rm.Body, e
	}
	return rm.Body, nil
}

// replyError returns the *cmdError of a reply with ok: 0, nil for ok: 1.
func replyError(reply bson.Raw) *cmdError {
	if okValue(reply) {
		return nil
	}
	code, _ := asInt32(reply.Lookup("code"))
	msg, _ := reply.Lookup("errmsg").StringValueOK()
	return &cmdError{code: code, msg: msg}
}

func okValue(reply bson.Raw) bool {
	v := reply.Lookup("ok")
	switch v.Type {
	case bson.TypeDouble:
		return v.Double() == 1
	case bson.TypeInt32:
		return v.Int32() == 1
	case bson.TypeInt64:
		return v.Int64() == 1
	case bson.TypeBoolean:
		return v.Boolean()
	}
	return false
}

// handleQuery answers an OP_QUERY: the legacy handshake (hello or isMaster on a $cmd
// collection) is edited for the listener's profile; anything else passes through.
func (s *session) handleQuery(m []byte, h wire.Header, q *wire.Query) error {
	cmd := q.Query
	if inner, ok := cmd.Lookup("$query").DocumentOK(); ok {
		cmd = inner
	}
	first, err := cmd.IndexErr(0)
	if err != nil || !strings.HasSuffix(q.FullCollectionName, ".$cmd") || !isHello(first.Key()) || s.ln.profile.isDefault() {
		return s.passThrough(m, false)
	}
	rep, err := s.roundTrip(m)
	if err != nil {
		return err
	}
	p, err := wire.Parse(rep)
	if err != nil || p.Reply == nil || len(p.Reply.Documents) != 1 {
		_, werr := s.client.Write(rep)
		return werr
	}
	var d bson.D
	if err := bson.Unmarshal(p.Reply.Documents[0], &d); err != nil {
		_, werr := s.client.Write(rep)
		return werr
	}
	if okValue(p.Reply.Documents[0]) {
		d = s.ln.editHello(d)
	}
	return wire.WriteReply(s.client, s.nextID(), h.RequestID, rawDoc(d))
}

func isHello(name string) bool {
	return name == "hello" || name == "isMaster" || name == "ismaster"
}

// refuseTransaction refuses the commands of a multi-document transaction: FerretDB has no
// transactions and would run each command on its own, ignoring startTransaction.
func refuseTransaction(r *request) *cmdError {
	switch r.name {
	case "commitTransaction", "abortTransaction":
		return errorf(codeIllegalOperation, "the embedded test server (FerretDB behind qelayer) has no transactions: %s is refused", r.name)
	}
	if _, err := r.cmd.LookupErr("startTransaction"); err == nil {
		return errorf(codeIllegalOperation, "the embedded test server (FerretDB behind qelayer) has no transactions: %s with startTransaction is refused", r.name)
	}
	if v, err := r.cmd.LookupErr("autocommit"); err == nil {
		if b, ok := v.BooleanOK(); !ok || !b {
			return errorf(codeIllegalOperation, "the embedded test server (FerretDB behind qelayer) has no transactions: %s with autocommit: false is refused", r.name)
		}
	}
	return nil
}

// editReply forwards the client's command as it is and passes FerretDB's reply, when ok,
// through edit.
func (s *session) editReply(r *request, edit func(d bson.D) bson.D) (bson.Raw, error) {
	rep, err := s.forward(r, nil)
	if err != nil {
		return nil, err
	}
	if !okValue(rep) {
		return rep, nil
	}
	var d bson.D
	if err := bson.Unmarshal(rep, &d); err != nil {
		return rep, nil
	}
	return rawDoc(edit(d)), nil
}

// handlers are the commands the layer takes; every other command passes through.
var handlers map[string]handler

func init() {
	handlers = map[string]handler{
		"hello":            handleHello,
		"isMaster":         handleHello,
		"ismaster":         handleHello,
		"buildInfo":        handleBuildInfo,
		"buildinfo":        handleBuildInfo,
		"qeLayerListen":    handleListen,
		"create":           handleCreate,
		"drop":             handleDrop,
		"dropDatabase":     handleDropDatabase,
		"renameCollection": handleRename,
		"listCollections":  handleListCollections,
		"getMore":          handleGetMore,
		"collMod":          handleCollMod,
		"createIndexes":    handleCreateIndexes,
		"listIndexes":      handleListIndexes,
		"dropIndexes":      handleDropIndexes,
		"insert":           handleInsert,
		"update":           handleUpdate,
		"findAndModify":    handleFindAndModify,
		"findandmodify":    handleFindAndModify,
		"bulkWrite":        handleBulkWrite,
	}
}

func handleHello(_ context.Context, s *session, r *request) (bson.Raw, error) {
	if s.ln.profile.isDefault() {
		return nil, errPassThrough
	}
	return s.editReply(r, s.ln.editHello)
}

func handleBuildInfo(_ context.Context, s *session, r *request) (bson.Raw, error) {
	if s.ln.profile.isDefault() {
		return nil, errPassThrough
	}
	return s.editReply(r, s.ln.editBuildInfo)
}

// handleListen answers {qeLayerListen: 1, version, topology} with the URI of a listener of
// that profile.
func handleListen(_ context.Context, s *session, r *request) (bson.Raw, error) {
	if r.db != "admin" {
		return nil, errorf(codeIllegalOperation, "qeLayerListen may only be run against the admin database")
	}
	version, _ := r.cmd.Lookup("version").StringValueOK()
	topology, _ := r.cmd.Lookup("topology").StringValueOK()
	if version == "" || topology == "" {
		return nil, errorf(codeBadValue, "qeLayerListen needs a version (\"8.0.0\") and a topology (%q, %q or %q)", TopologySingle, TopologyReplicaSet, TopologySharded)
	}
	uri, err := s.layer.Listen(Profile{Version: version, Topology: topology})
	if err != nil {
		return nil, errorf(codeBadValue, "%v", err)
	}
	return rawDoc(bson.D{{Key: "uri", Value: uri}, {Key: "ok", Value: 1.0}}), nil
}
