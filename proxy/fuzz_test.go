package proxy

import (
	"bytes"
	"testing"

	"github.com/mongocrypt-go/mongocrypt/internal/wire"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// FuzzEnvelope feeds client bytes (an OP_MSG, as a client may send anything) to the proxy's
// own handling of the driver's envelope: taking it off a command and putting it back gives the
// same fields, and nothing panics.
func FuzzEnvelope(f *testing.F) {
	body, _ := bson.Marshal(bson.D{{Key: "insert", Value: "c"}, {Key: "lsid", Value: bson.D{{Key: "id", Value: 1}}},
		{Key: "ordered", Value: true}, {Key: "$clusterTime", Value: bson.D{}}, {Key: "$db", Value: "db"}})
	d1, _ := bson.Marshal(bson.D{{Key: "_id", Value: 1}, {Key: "x", Value: "a"}})
	seed, _ := (&wire.Msg{Body: body, Sequences: []wire.Sequence{{Identifier: "documents", Docs: []bson.Raw{d1}}}}).Append(nil, 1, 0)
	f.Add(seed)
	f.Fuzz(func(t *testing.T, m []byte) {
		msg, err := wire.ParseMsg(m)
		if err != nil {
			return
		}
		cmd, err := msg.Command()
		if err != nil {
			return
		}
		bare, env := splitEnvelope(cmd)
		back := appendElements(bare, env)
		first, _ := cmd.IndexErr(0)
		// Every field comes back, after the command's own, unless the command's name is
		// itself an envelope field name (the body keeps it, and the envelope's copy is dropped).
		if !envelopeFields[first.Key()] && len(back) != len(cmd) {
			t.Fatalf("envelope round trip: %d bytes, want %d", len(back), len(cmd))
		}
		if len(env) == 0 && !bytes.Equal(back, cmd) {
			t.Fatal("a command without envelope changed")
		}
	})
}
