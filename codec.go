// The caller's options and documents, read as the driver reads them: the Registry and
// BSONOptions a document option is encoded with, and option setters applied in order.

package mongocrypt

import (
	"bytes"
	"reflect"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// bsonCodec is how a driver client encodes the values of its caller: its Registry and its
// BSONOptions. The zero bsonCodec is bson.Marshal's.
type bsonCodec struct {
	reg  *bson.Registry
	opts *options.BSONOptions
}

// clientCodec is the codec of options.ClientOptions: what the driver encodes the schemaMap,
// encryptedFieldsMap and kmsProviders of automatic encryption with (mongo/client.go,
// newMongoCrypt).
func clientCodec(o *options.ClientOptions) bsonCodec {
	return bsonCodec{reg: o.Registry, opts: o.BSONOptions}
}

var (
	registryType    = reflect.TypeOf((*bson.Registry)(nil))
	bsonOptionsType = reflect.TypeOf((*options.BSONOptions)(nil))
)

// codecOf is the codec of a *mongo.Client or a *mongo.Database: the driver's ClientEncryption
// encodes masterKey and the RewrapManyDataKey filter with the key vault client's
// (mongo/client_encryption.go, CreateDataKey and RewrapManyDataKey), and the encryptedFields of
// CreateEncryptedCollection with the database's. The driver keeps them in unexported fields
// (registry, bsonOpts) that no method returns, so they are read with reflect; a driver whose
// fields are named or typed otherwise gives the zero codec (TestCodecOfDriver tells).
func codecOf(v any) bsonCodec {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return bsonCodec{}
	}
	rv = rv.Elem()
	var c bsonCodec
	if f, ok := ownField(rv, "registry", registryType); ok {
		c.reg = (*bson.Registry)(f.UnsafePointer())
	}
	if f, ok := ownField(rv, "bsonOpts", bsonOptionsType); ok {
		c.opts = (*options.BSONOptions)(f.UnsafePointer())
	}
	return c
}

// ownField is the field name of type t of the struct v itself: a field promoted from an embedded
// struct is not taken (reaching one through a nil embedded pointer panics).
func ownField(v reflect.Value, name string, t reflect.Type) (reflect.Value, bool) {
	sf, ok := v.Type().FieldByName(name)
	if !ok || len(sf.Index) != 1 || sf.Type != t {
		return reflect.Value{}, false
	}
	return v.Field(sf.Index[0]), true
}

// marshal encodes a caller's document option (bson.D, bson.M, a struct, bson.Raw, []byte...)
// as the driver does (mongo/mongo.go, marshal and getEncoder): a bson.Raw or []byte is taken
// as it is, once validated; anything else goes through an encoder with the codec's registry
// and options. nil gives nil.
func (c bsonCodec) marshal(v any, what string) (bson.Raw, error) {
	if v == nil {
		return nil, nil
	}
	if b, ok := v.([]byte); ok {
		v = bson.Raw(b)
	}
	if r, ok := v.(bson.Raw); ok {
		if err := r.Validate(); err != nil {
			return nil, clientErr("%s is not a valid BSON document: %w", what, err)
		}
		return r, nil
	}
	var buf bytes.Buffer
	enc := bson.NewEncoder(bson.NewDocumentWriter(&buf))
	if o := c.opts; o != nil {
		if o.ErrorOnInlineDuplicates {
			enc.ErrorOnInlineDuplicates()
		}
		if o.IntMinSize {
			enc.IntMinSize()
		}
		if o.NilByteSliceAsEmpty {
			enc.NilByteSliceAsEmpty()
		}
		if o.NilMapAsEmpty {
			enc.NilMapAsEmpty()
		}
		if o.NilSliceAsEmpty {
			enc.NilSliceAsEmpty()
		}
		if o.OmitZeroStruct {
			enc.OmitZeroStruct()
		}
		if o.OmitEmpty {
			enc.OmitEmpty()
		}
		if o.StringifyMapKeysWithFmt {
			enc.StringifyMapKeysWithFmt()
		}
		if o.UseJSONStructTags {
			enc.UseJSONStructTags()
		}
	}
	if c.reg != nil {
		enc.SetRegistry(c.reg)
	}
	if err := enc.Encode(v); err != nil {
		return nil, clientErr("%s cannot be encoded as a BSON document: %w", what, err)
	}
	return buf.Bytes(), nil
}

// listerOptions applies option setters in order, as the driver does.
func listerOptions[T any](opts []options.Lister[T]) (*T, error) {
	args := new(T)
	for _, o := range opts {
		if o == nil {
			continue
		}
		for _, set := range o.List() {
			if set == nil {
				continue
			}
			if err := set(args); err != nil {
				return nil, clientErr("invalid options: %w", err)
			}
		}
	}
	return args, nil
}

// marshalDoc encodes a caller's document option (bson.D, bson.M, a struct, bson.Raw...) as
// bson.Marshal does, for the options the driver encodes with its default registry.
func marshalDoc(v any, what string) (bson.Raw, error) {
	return bsonCodec{}.marshal(v, what)
}
