// Errors: the exported error types and codes, their classification at the exported entry points
// (errorOf), the KMS errors of the providers made public (publicKMS), and the classification of
// the errors of package qe.

package mongocrypt

import (
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mongocrypt-go/mongocrypt/internal/aead"
	"github.com/mongocrypt-go/mongocrypt/internal/kms"
)

// Error codes of [Error]. CodeClient is libmongocrypt's client error code; the others tell the
// class of failure at a glance (the cause, reachable with errors.As, tells it precisely).
const (
	CodeClient   int32 = 1 // bad input or options, a value that cannot be encrypted, a closed client, a failed command of collection metadata
	CodeKMS      int32 = 2 // a KMS provider failed; the cause is a *KMSError
	CodeKeyVault int32 = 3 // reading or writing the key vault failed (the cause is a *KeyVaultError), or a key is not in it (ErrKeyNotFound)
	CodeCrypto   int32 = 4 // a ciphertext failed authentication or is malformed
	CodeAnalysis int32 = 5 // automatic encryption refused a command
)

// Error is an encryption or decryption failure: the MongoCryptError of the other drivers. Every
// error that a function or method of this package returns is an *Error, except the
// *[CreateDataKeyError] and *[CreateEncryptedCollectionError] of
// [ClientEncryption.CreateEncryptedCollection] (which hold one), mongo.ErrNoDocuments in the
// results of the key lookups, and the errors of mongo.Connect when [Connect] is given no
// AutoEncryptionOptions. Code is one of the Code constants; Err is the cause, if any.
//
// For code written against the driver's libmongocrypt binding, an *Error is also a
// mongo.MongocryptError (a value, as the driver returns it) with the same Code (one of the Code
// constants, where libmongocrypt's are mostly 1) and, as Message, its message and cause. The
// errors of a closed client are not: they wrap mongo.ErrClientDisconnected, which the driver
// returns alone. A key vault failure is also a mongo.EncryptionKeyVaultError:
//
//	var me mongo.MongocryptError
//	if errors.As(err, &me) { ... me.Code, me.Message ... }
//	var kve mongo.EncryptionKeyVaultError
//	if errors.As(err, &kve) { ... kve.Wrapped ... }
//	if errors.Is(err, mongo.ErrClientDisconnected) { ... }
type Error struct {
	Code    int32
	Message string
	Err     error
}

// Error formats the code, the message and the cause.
func (e *Error) Error() string {
	return "mongocrypt error " + fmt.Sprint(e.Code) + ": " + e.text()
}

// text is the message and the cause. A cause that is itself an *Error, or a join of them (the
// failures of several keys), is written without its own "mongocrypt error N: " prefix: the
// text says the code once, and errors.As still finds each one.
func (e *Error) text() string {
	switch {
	case e.Err == nil:
		return e.Message
	case e.Message == "":
		return causeText(e.Err)
	}
	return e.Message + ": " + causeText(e.Err)
}

func causeText(err error) string {
	switch c := err.(type) {
	case *Error:
		return c.text()
	case interface{ Unwrap() []error }:
		// errors.Join writes its errors one per line; a fmt.Errorf with several %w has text
		// of its own and is written as it is.
		errs := c.Unwrap()
		plain := make([]string, len(errs))
		parts := make([]string, len(errs))
		for i, e := range errs {
			plain[i], parts[i] = e.Error(), causeText(e)
		}
		if strings.Join(plain, "\n") == err.Error() {
			return strings.Join(parts, "\n")
		}
	}
	return err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// As makes an *Error a mongo.MongocryptError for errors.As, with its Code and, as Message, its
// message and cause, so that the two format alike. The errors of a closed client are not: the
// driver returns mongo.ErrClientDisconnected alone, which they wrap.
func (e *Error) As(target any) bool {
	t, ok := target.(*mongo.MongocryptError)
	if !ok || errors.Is(e.Err, mongo.ErrClientDisconnected) {
		return false
	}
	*t = mongo.MongocryptError{Code: e.Code, Message: e.text()}
	return true
}

func clientErr(format string, args ...any) error {
	return &Error{Code: CodeClient, Err: fmt.Errorf(format, args...)}
}

// KMSError is a failure of a KMS provider: a request that could not be sent, a reply with an
// error status, or a reply that cannot be used. Its *[Error] has CodeKMS. It never holds a key,
// a credential or the key material sent.
type KMSError struct {
	// Provider is the name of the KMS provider as configured: "aws", "aws:prod", "local", ...
	Provider string
	// Op is the operation that failed: "encrypt" and "decrypt" (wrapping and unwrapping a
	// data key with AWS, GCP, KMIP or local; "wrapkey" and "unwrapkey" with Azure), "token"
	// (the OAuth token of Azure or GCP), "credentials" (on-demand credentials: AWS, the Azure
	// IMDS or the GCP metadata server), "create", "register", "activate", "get" (KMIP).
	Op string
	// Status is the HTTP status of the reply of HTTP providers (AWS, Azure, GCP), or 0 when
	// there is no reply (a network failure) or the provider does not speak HTTP (local, KMIP).
	// A reply of status 200 that cannot be used has Status 200.
	Status int
	// Err is the cause: a network error, the start of the error reply, or what is wrong with
	// the reply.
	Err error
}

// Error names the provider, the operation, the HTTP status when there is one, and the cause.
func (e *KMSError) Error() string {
	return (&kms.Error{Provider: e.Provider, Op: e.Op, Status: e.Status, Err: e.Err}).Error()
}

// Unwrap returns the cause.
func (e *KMSError) Unwrap() error { return e.Err }

// KeyVaultError is a failure to read or write the key vault collection, or a key document in
// it that cannot be used. Its *[Error] has CodeKeyVault. Except a key document that cannot be
// parsed (Op "parse"), it is also a mongo.EncryptionKeyVaultError for errors.As, whose Wrapped
// is Err.
type KeyVaultError struct {
	Op  string // "find", "insert", "update", "delete", "count", "connect", "disconnect", "parse"
	Err error
}

// Error names the key vault operation and its cause.
func (e *KeyVaultError) Error() string { return "key vault " + e.Op + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *KeyVaultError) Unwrap() error { return e.Err }

// As makes a KeyVaultError of a key vault command a mongo.EncryptionKeyVaultError, the driver's
// error for key vault failures.
func (e *KeyVaultError) As(target any) bool {
	t, ok := target.(*mongo.EncryptionKeyVaultError)
	if !ok || e.Op == "parse" {
		return false
	}
	*t = mongo.EncryptionKeyVaultError{Wrapped: e.Err}
	return true
}

// ErrKeyNotFound is wrapped by the errors for data keys that are not in the key vault. Its
// text holds libmongocrypt's "not all keys requested were satisfied".
var ErrKeyNotFound = errors.New("not all keys requested were satisfied: data key not found in the key vault")

// ErrAuthentication is wrapped by the errors for ciphertexts that fail authentication: a wrong
// key, a tampered or truncated value. It says nothing more, on purpose.
var ErrAuthentication = aead.ErrAuth

// errClosed is the error of a closed ClientEncryption or AutoEncrypter: an *Error wrapping
// ErrClientDisconnected.
func errClosed(what string) error {
	return &Error{Code: CodeClient, Message: what + " is closed", Err: mongo.ErrClientDisconnected}
}

// CreateDataKeyError is returned by CreateEncryptedCollection when a data key could not be
// created. EncryptedFields holds the encryptedFields document with the keys made so far; Err is
// an *[Error].
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
// that were created, so that they can be used or deleted; Err is an *[Error].
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

// errorOf is the classification of the errors of the exported functions and methods, at their
// return: every error leaves as an *Error (a CreateDataKeyError or
// CreateEncryptedCollectionError holding one), with the *KMSError of the package in place of
// the KMS errors of the providers. The errors made inside the package are *Error values from
// where they happen, with their code; what reaches here unclassified (an error of the driver, a
// join of errors) gets the code of what it holds.
func errorOf(err error) error {
	if err == nil {
		return nil
	}
	err = publicKMS(err)
	switch e := err.(type) {
	case *Error:
		return e
	case *CreateDataKeyError:
		e.Err = errorOf(e.Err)
		return e
	case *CreateEncryptedCollectionError:
		e.Err = errorOf(e.Err)
		return e
	}
	return &Error{Code: codeOf(err), Err: err}
}

// codeOf is the Error code for err: that of the *Error it holds, else that of its cause.
func codeOf(err error) int32 {
	var me *Error
	var ke *KMSError
	var kve *KeyVaultError
	switch {
	case errors.As(err, &me):
		return me.Code
	case errors.As(err, &ke):
		return CodeKMS
	case errors.As(err, &kve), errors.Is(err, ErrKeyNotFound):
		return CodeKeyVault
	case errors.Is(err, ErrAuthentication):
		return CodeCrypto
	}
	return CodeClient
}

// publicKMS replaces every *kms.Error in the chain of err by a *KMSError, keeping the text of
// every error of the chain. Chains without one are returned as they are.
func publicKMS(err error) error {
	var ke *kms.Error
	if !errors.As(err, &ke) {
		return err
	}
	switch e := err.(type) {
	case *kms.Error:
		return &KMSError{Provider: e.Provider, Op: e.Op, Status: e.Status, Err: publicKMS(e.Err)}
	case *Error:
		c := *e
		c.Err = publicKMS(e.Err)
		return &c
	case *KeyVaultError:
		c := *e
		c.Err = publicKMS(e.Err)
		return &c
	case *CreateDataKeyError:
		c := *e
		c.Err = publicKMS(e.Err)
		return &c
	case *CreateEncryptedCollectionError:
		c := *e
		c.Err = publicKMS(e.Err)
		return &c
	case interface{ Unwrap() error }:
		return &textWrap{text: err.Error(), err: publicKMS(e.Unwrap())}
	case interface{ Unwrap() []error }:
		errs := e.Unwrap()
		out := make([]error, len(errs))
		for i, c := range errs {
			out[i] = publicKMS(c)
		}
		return &textJoin{text: err.Error(), errs: out}
	}
	return err
}

// textWrap and textJoin stand for a wrapping error of another type (fmt.Errorf's, errors.Join's)
// whose causes publicKMS replaced: same text, new causes.
type textWrap struct {
	text string
	err  error
}

func (e *textWrap) Error() string { return e.text }
func (e *textWrap) Unwrap() error { return e.err }

type textJoin struct {
	text string
	errs []error
}

func (e *textJoin) Error() string   { return e.text }
func (e *textJoin) Unwrap() []error { return e.errs }

// classifyErr is errorOf for a deferred call on a named error result.
func classifyErr(err *error) { *err = errorOf(*err) }

// keyVaultResult classifies the error of a key vault SingleResult as errorOf does, a failed
// command as a *KeyVaultError of op; mongo.ErrNoDocuments (no key matched) is left as the
// driver returns it.
func keyVaultResult(res *mongo.SingleResult, op string) *mongo.SingleResult {
	err := res.Err()
	if err == nil || errors.Is(err, mongo.ErrNoDocuments) {
		return res
	}
	var me *Error
	if !errors.As(err, &me) {
		err = &Error{Code: CodeKeyVault, Err: &KeyVaultError{Op: op, Err: err}}
	}
	return errResult(errorOf(err))
}

// withMessage puts msg in front of the message of err, an *Error or an error to classify.
func withMessage(err error, msg string) error {
	e, ok := err.(*Error)
	if !ok {
		return &Error{Code: codeOf(err), Message: msg, Err: err}
	}
	c := *e
	if c.Message != "" {
		msg += ": " + c.Message
	}
	c.Message = msg
	return &c
}

// qeErr classifies an error of package qe: key lookups are already *Error values.
func qeErr(err error) error {
	var me *Error
	if errors.As(err, &me) {
		return err
	}
	if errors.Is(err, aead.ErrAuth) {
		return &Error{Code: CodeCrypto, Err: err}
	}
	return &Error{Code: CodeClient, Err: err}
}
