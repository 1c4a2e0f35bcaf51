package wire

import (
	"bytes"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// FuzzSequences feeds client bytes (an OP_MSG, as a client may send anything) to ParseMsg,
// Msg.Command and SplitSequences: nothing panics, and for a message Command takes, splitting
// gives back the client's sequences and body, byte for byte.
func FuzzSequences(f *testing.F) {
	body, _ := bson.Marshal(bson.D{{Key: "insert", Value: "c"}, {Key: "$db", Value: "db"}})
	d1, _ := bson.Marshal(bson.D{{Key: "_id", Value: 1}, {Key: "x", Value: "a"}})
	d2, _ := bson.Marshal(bson.D{{Key: "_id", Value: 2}})
	seed, _ := (&Msg{Body: body, Sequences: []Sequence{{Identifier: "documents", Docs: []bson.Raw{d1, d2}}}}).Append(nil, 1, 0)
	f.Add(seed)
	plain, _ := (&Msg{Body: body}).Append(nil, 2, 0)
	f.Add(plain)
	f.Fuzz(func(t *testing.T, m []byte) {
		msg, err := ParseMsg(m)
		if err != nil {
			return
		}
		cmd, err := msg.Command()
		if err != nil {
			return
		}
		out, seqs, err := SplitSequences(cmd, msg.Sequences)
		if err != nil {
			t.Fatalf("splitting a merged command: %v", err)
		}
		if !bytes.Equal(out, msg.Body) {
			t.Fatalf("body %x, want %x", out, msg.Body)
		}
		if len(seqs) != len(msg.Sequences) {
			t.Fatalf("%d sequences, want %d", len(seqs), len(msg.Sequences))
		}
		for i := range seqs {
			if seqs[i].Identifier != msg.Sequences[i].Identifier || len(seqs[i].Docs) != len(msg.Sequences[i].Docs) {
				t.Fatalf("sequence %d differs", i)
			}
			for j := range seqs[i].Docs {
				if !bytes.Equal(seqs[i].Docs[j], msg.Sequences[i].Docs[j]) {
					t.Fatalf("document %d of sequence %d differs", j, i)
				}
			}
		}
	})
}
