package mongocrypt

import (
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mongocrypt-go/mongocrypt/internal/aead"
	"github.com/mongocrypt-go/mongocrypt/internal/kms"
)

// Error codes of [Error]. CodeClient is libmongocrypt's client error code; the others tell the
// class of failure at a glance (the cause, reachable with errors.As, tells it precisely).
const (
	CodeClient   int32 = 1 // bad input or options, a value that cannot be encrypted
	CodeKMS      int32 = 2 // a KMS provider failed; the cause is a *KMSError
	CodeKeyVault int32 = 3 // reading or writing the key vault failed; the cause is a *KeyVaultError
	CodeCrypto   int32 = 4 // a ciphertext failed authentication or is malformed
	CodeAnalysis int32 = 5 // automatic encryption refused a command
)

// Error is an encryption or decryption failure: the MongoCryptError of the other drivers. Code
// is one of the Code constants; Err is the cause, if any.
type Error struct {
	Code    int32
	Message string
	Err     error
}

// Error formats the code, the message and the cause.
func (e *Error) Error() string {
	if e.Err == nil {
		return "mongocrypt error " + fmt.Sprint(e.Code) + ": " + e.Message
	}
	if e.Message == "" {
		return fmt.Sprintf("mongocrypt error %d: %v", e.Code, e.Err)
	}
	return fmt.Sprintf("mongocrypt error %d: %s: %v", e.Code, e.Message, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func clientErr(format string, args ...any) error {
	return &Error{Code: CodeClient, Err: fmt.Errorf(format, args...)}
}

// KMSError is a failure of a KMS provider: it names the provider ("aws:prod"), the operation
// and, for HTTP providers, the status of the reply.
type KMSError = kms.Error

// KeyVaultError is a failure to read or write the key vault collection, or a key document in
// it that cannot be used.
type KeyVaultError struct {
	Op  string // "find", "insert", "update", "delete", "parse"
	Err error
}

// Error names the key vault operation and its cause.
func (e *KeyVaultError) Error() string { return "key vault " + e.Op + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *KeyVaultError) Unwrap() error { return e.Err }

// ErrKeyNotFound is wrapped by the errors for data keys that are not in the key vault. Its
// text holds libmongocrypt's "not all keys requested were satisfied".
var ErrKeyNotFound = errors.New("not all keys requested were satisfied: data key not found in the key vault")

// ErrAuthentication is wrapped by the errors for ciphertexts that fail authentication: a wrong
// key, a tampered or truncated value. It says nothing more, on purpose.
var ErrAuthentication = aead.ErrAuth

// CreateDataKeyError is returned by CreateEncryptedCollection when a data key could not be
// created. EncryptedFields holds the encryptedFields document with the keys made so far.
type CreateDataKeyError struct {
	EncryptedFields bson.M
	Err             error
}

// Error says that a data key could not be made, and why.
func (e *CreateDataKeyError) Error() string { return "creating a data key: " + e.Err.Error() }

// Unwrap returns the cause.
func (e *CreateDataKeyError) Unwrap() error { return e.Err }

// CreateEncryptedCollectionError is returned by CreateEncryptedCollection when the collection
// could not be created. EncryptedFields holds the encryptedFields document with the data keys
// that were created, so that they can be used or deleted.
type CreateEncryptedCollectionError struct {
	EncryptedFields bson.M
	Err             error
}

// Error says that the collection could not be created, and why.
func (e *CreateEncryptedCollectionError) Error() string {
	return "creating the encrypted collection: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *CreateEncryptedCollectionError) Unwrap() error { return e.Err }

// wrapKMS gives a KMS failure its Error code.
func wrapKMS(err error) error {
	if err == nil {
		return nil
	}
	var ke *kms.Error
	if errors.As(err, &ke) {
		return &Error{Code: CodeKMS, Err: err}
	}
	return &Error{Code: CodeKMS, Message: "KMS", Err: err}
}
