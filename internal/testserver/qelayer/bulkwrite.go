package qelayer

import (
	"context"
	"errors"
	"strings"

	"github.com/mongocrypt-go/mongocrypt/internal/wire"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// handleBulkWrite runs the client bulkWrite command of MongoDB 8.0, which FerretDB lacks:
// each operation becomes the insert, update or delete command of its namespace, with the
// namespace's encryptionInformation from nsInfo, and runs through the layer as a client's
// command would (Queryable Encryption and the layer's unique indexes included). The reply is
// the server's: a cursor of one result per operation (errors only with errorsOnly) and the
// counts. An ordered bulkWrite stops at its first error.
//
// What MongoDB does in one transaction per operation the layer cannot: an operation that fails
// half way leaves what it wrote, as its own command would.
func handleBulkWrite(ctx context.Context, s *session, r *request) (bson.Raw, error) {
	if r.db != "admin" {
		return nil, errorf(codeIllegalOperation, "bulkWrite may only be run against the admin database.")
	}
	opsV, err := r.cmd.LookupErr("ops")
	if err != nil {
		return nil, errorf(40414, "BSON field 'bulkWrite.ops' is missing but a required field")
	}
	ops, ok := opsV.ArrayOK()
	if !ok {
		return nil, errorf(14, "BSON field 'bulkWrite.ops' is the wrong type '%s', expected type 'array'", opsV.Type)
	}
	nsV, err := r.cmd.LookupErr("nsInfo")
	if err != nil {
		return nil, errorf(40414, "BSON field 'bulkWrite.nsInfo' is missing but a required field")
	}
	nsArr, ok := nsV.ArrayOK()
	if !ok {
		return nil, errorf(14, "BSON field 'bulkWrite.nsInfo' is the wrong type '%s', expected type 'array'", nsV.Type)
	}
	nsVals, _ := nsArr.Values()
	type nsEntry struct {
		db, coll string
		ei       bson.RawValue
	}
	var nss []nsEntry
	for _, v := range nsVals {
		d, ok := v.DocumentOK()
		if !ok {
			return nil, errorf(14, "BSON field 'bulkWrite.nsInfo' holds a %s, expected type 'object'", v.Type)
		}
		ns, _ := d.Lookup("ns").StringValueOK()
		db, coll, found := strings.Cut(ns, ".")
		if !found || db == "" || coll == "" {
			return nil, errorf(73, "Invalid namespace specified '%s'", ns)
		}
		nss = append(nss, nsEntry{db: db, coll: coll, ei: d.Lookup("encryptionInformation")})
	}
	ordered := orderedOf(r.cmd)
	errorsOnly, _ := r.cmd.Lookup("errorsOnly").BooleanOK()
	vals, _ := ops.Values()
	var results bson.A
	var nErrors, nInserted, nMatched, nModified, nUpserted, nDeleted int32
	for i, v := range vals {
		op, ok := v.DocumentOK()
		if !ok {
			return nil, errorf(14, "BSON field 'bulkWrite.ops' holds a %s, expected type 'object'", v.Type)
		}
		first, err := op.IndexErr(0)
		if err != nil {
			return nil, errorf(codeFailedToParse, "bulkWrite operation %d is empty", i)
		}
		kind := first.Key()
		idx, ok := asInt32(first.Value())
		if !ok || idx < 0 || int(idx) >= len(nss) {
			return nil, errorf(codeBadValue, "BulkWrite ops entry %d has an invalid nsInfo index", i)
		}
		ns := nss[idx]
		var cmd bson.D
		switch kind {
		case "insert":
			cmd = bson.D{{Key: "insert", Value: ns.coll}, {Key: "documents", Value: bson.A{op.Lookup("document")}}}
		case "update":
			st := bson.D{{Key: "q", Value: op.Lookup("filter")}, {Key: "u", Value: op.Lookup("updateMods")}}
			st = append(st, optionsOf(op, "multi", "upsert", "arrayFilters", "hint", "collation", "sort")...)
			cmd = bson.D{{Key: "update", Value: ns.coll}, {Key: "updates", Value: bson.A{st}}}
		case "delete":
			limit := int32(1)
			if m, _ := op.Lookup("multi").BooleanOK(); m {
				limit = 0
			}
			st := bson.D{{Key: "q", Value: op.Lookup("filter")}, {Key: "limit", Value: limit}}
			st = append(st, optionsOf(op, "hint", "collation")...)
			cmd = bson.D{{Key: "delete", Value: ns.coll}, {Key: "deletes", Value: bson.A{st}}}
		default:
			return nil, errorf(codeFailedToParse, "Unrecognized bulkWrite operation '%s'", kind)
		}
		cmd = append(cmd, optionsOf(r.cmd, "let", "bypassDocumentValidation")...)
		if ns.ei.Type != 0 {
			cmd = append(cmd, bson.E{Key: "encryptionInformation", Value: ns.ei})
		}
		cmd = append(cmd, bson.E{Key: "$db", Value: ns.db})
		rep, err := s.run(ctx, rawDoc(cmd))
		if err != nil {
			return nil, err
		}
		res := bson.D{{Key: "ok", Value: 1.0}, {Key: "idx", Value: int32(i)}}
		failed := false
		if e := replyError(rep); e != nil {
			res = bson.D{{Key: "ok", Value: 0.0}, {Key: "idx", Value: int32(i)}, {Key: "code", Value: e.code}, {Key: "codeName", Value: codeName(e.code)}, {Key: "errmsg", Value: e.msg}}
			failed = true
		} else if we, ok := rep.Lookup("writeErrors").ArrayOK(); ok {
			wv, _ := we.Values()
			if len(wv) > 0 {
				d, _ := wv[0].DocumentOK()
				code, _ := asInt32(d.Lookup("code"))
				msg, _ := d.Lookup("errmsg").StringValueOK()
				res = bson.D{{Key: "ok", Value: 0.0}, {Key: "idx", Value: int32(i)}, {Key: "code", Value: code}, {Key: "codeName", Value: codeName(code)}, {Key: "errmsg", Value: msg}}
				if kv := d.Lookup("keyPattern"); kv.Type != 0 {
					res = append(res, bson.E{Key: "keyPattern", Value: kv}, bson.E{Key: "keyValue", Value: d.Lookup("keyValue")})
				}
				failed = true
			}
		}
		if failed {
			nErrors++
			results = append(results, res)
			if ordered {
				break
			}
			continue
		}
		n := intOf(rep, "n")
		res = append(res, bson.E{Key: "n", Value: n})
		switch kind {
		case "insert":
			nInserted += n
		case "delete":
			nDeleted += n
		case "update":
			m := intOf(rep, "nModified")
			res = append(res, bson.E{Key: "nModified", Value: m})
			nModified += m
			if ups, ok := rep.Lookup("upserted").ArrayOK(); ok {
				uv, _ := ups.Values()
				if len(uv) > 0 {
					ud, _ := uv[0].DocumentOK()
					res = append(res, bson.E{Key: "upserted", Value: bson.D{{Key: "_id", Value: ud.Lookup("_id")}}})
					nUpserted++
					n--
				}
			}
			nMatched += n
		}
		if !errorsOnly {
			results = append(results, res)
		}
	}
	if results == nil {
		results = bson.A{}
	}
	return rawDoc(bson.D{
		{Key: "cursor", Value: bson.D{{Key: "id", Value: int64(0)}, {Key: "firstBatch", Value: results}, {Key: "ns", Value: "admin.$cmd.bulkWrite"}}},
		{Key: "nErrors", Value: nErrors}, {Key: "nInserted", Value: nInserted}, {Key: "nMatched", Value: nMatched},
		{Key: "nModified", Value: nModified}, {Key: "nUpserted", Value: nUpserted}, {Key: "nDeleted", Value: nDeleted},
		{Key: "ok", Value: 1.0},
	}), nil
}

// run runs a command of the layer's own making as if a client had sent it on this
// connection: through Queryable Encryption, then its handler or FerretDB. An error reply is
// returned as a reply body; an error closes the connection.
func (s *session) run(ctx context.Context, cmd bson.Raw) (bson.Raw, error) {
	msg := &wire.Msg{Body: cmd}
	id := s.nextID()
	m, err := msg.Append(nil, id, 0)
	if err != nil {
		return errorf(codeBadValue, "qelayer: %v", err).reply(), nil
	}
	r := &request{raw: m, hdr: wire.Header{RequestID: id}, msg: msg, cmd: cmd}
	first, _ := cmd.IndexErr(0)
	r.name = first.Key()
	r.db, _ = cmd.Lookup("$db").StringValueOK()
	asReply := func(body bson.Raw, err error) (bson.Raw, error) {
		var ce *cmdError
		if errors.As(err, &ce) {
			return ce.reply(), nil
		}
		return body, err
	}
	if err := s.adaptForFerretDB(r); err != nil {
		return asReply(nil, err)
	}
	if done, body, err := s.qeRewrite(ctx, r); done {
		return asReply(body, err)
	}
	if hf, ok := handlers[r.name]; ok {
		body, err := hf(ctx, s, r)
		if !errors.Is(err, errPassThrough) {
			return asReply(body, err)
		}
	}
	return s.forward(r, nil)
}
