package kmip

import (
	"errors"
	"fmt"
	"strings"
)

// The request messages are those of libmongocrypt (kms-message's kms_kmip_request.c): one batch
// item, protocol version 1.0 for Register, Activate and Get, 1.2 for Create, Encrypt and
// Decrypt (the versions that introduced them).

// Operation enumeration values (KMIP 1.2, 9.1.3.2.27).
const (
	opCreate   uint32 = 0x01
	opRegister uint32 = 0x03
	opGet      uint32 = 0x0A
	opActivate uint32 = 0x12
	opEncrypt  uint32 = 0x1F
	opDecrypt  uint32 = 0x20
)

// opName names an operation in errors, as kms.Error.Op.
func opName(op uint32) string {
	switch op {
	case opCreate:
		return "create"
	case opRegister:
		return "register"
	case opGet:
		return "get"
	case opActivate:
		return "activate"
	case opEncrypt:
		return "encrypt"
	case opDecrypt:
		return "decrypt"
	}
	return fmt.Sprintf("operation 0x%02x", op)
}

// Enumeration and mask values written in requests (KMIP 1.2, 9.1.3).
const (
	objectTypeSymmetricKey    uint32 = 2
	objectTypeSecretData      uint32 = 7
	secretDataTypeSeed        uint32 = 2
	keyFormatTypeOpaque       uint32 = 2
	cryptographicAlgorithmAES uint32 = 3
	blockCipherModeCBC        uint32 = 1
	paddingMethodPKCS5        uint32 = 3

	usageMaskEncrypt int32 = 0x04
	usageMaskDecrypt int32 = 0x08

	aesKeyBits = 256

	attrCryptographicUsageMask = "Cryptographic Usage Mask"
	attrCryptographicAlgorithm = "Cryptographic Algorithm"
	attrCryptographicLength    = "Cryptographic Length"
)

// Result Status values (KMIP 1.2, 9.1.3.2.28).
const (
	statusSuccess uint32 = 0
)

// request returns a request message with one batch item of operation op, protocol version
// 1.minor, whose RequestPayload is written by payload:
//
//	RequestMessage { RequestHeader { ProtocolVersion { Major, Minor }, BatchCount = 1 },
//	                 BatchItem { Operation, RequestPayload { ... } } }
func request(minor int32, op uint32, payload func(e *encoder)) []byte {
	var e encoder
	e.begin(tagRequestMessage)
	e.begin(tagRequestHeader)
	e.begin(tagProtocolVersion)
	e.integer(tagProtocolVersionMajor, 1)
	e.integer(tagProtocolVersionMinor, minor)
	e.end()
	e.integer(tagBatchCount, 1)
	e.end()
	e.begin(tagBatchItem)
	e.enumeration(tagOperation, op)
	e.begin(tagRequestPayload)
	payload(&e)
	e.end()
	e.end()
	e.end()
	return e.finish()
}

// attribute writes an Attribute { AttributeName, AttributeValue } whose value is written by v.
func attribute(e *encoder, name string, v func(e *encoder)) {
	e.begin(tagAttribute)
	e.text(tagAttributeName, name)
	v(e)
	e.end()
}

// registerRequest registers secret as a SecretData object of type Seed in Opaque format, with a
// cryptographic usage mask of 0 (the server never uses it in an operation).
func registerRequest(secret []byte) []byte {
	return request(0, opRegister, func(e *encoder) {
		e.enumeration(tagObjectType, objectTypeSecretData)
		e.begin(tagTemplateAttribute)
		attribute(e, attrCryptographicUsageMask, func(e *encoder) { e.integer(tagAttributeValue, 0) })
		e.end()
		e.begin(tagSecretData)
		e.enumeration(tagSecretDataType, secretDataTypeSeed)
		e.begin(tagKeyBlock)
		e.enumeration(tagKeyFormatType, keyFormatTypeOpaque)
		e.begin(tagKeyValue)
		e.bytes(tagKeyMaterial, secret)
		e.end()
		e.end()
		e.end()
	})
}

// uidRequest is the request of an operation whose payload is only a UniqueIdentifier.
func uidRequest(op uint32, uid string) []byte {
	return request(0, op, func(e *encoder) { e.text(tagUniqueIdentifier, uid) })
}

func activateRequest(uid string) []byte { return uidRequest(opActivate, uid) }

func getRequest(uid string) []byte { return uidRequest(opGet, uid) }

// createRequest creates an AES-256 symmetric key usable for Encrypt and Decrypt.
func createRequest() []byte {
	return request(2, opCreate, func(e *encoder) {
		e.enumeration(tagObjectType, objectTypeSymmetricKey)
		e.begin(tagTemplateAttribute)
		attribute(e, attrCryptographicAlgorithm, func(e *encoder) {
			e.enumeration(tagAttributeValue, cryptographicAlgorithmAES)
		})
		attribute(e, attrCryptographicLength, func(e *encoder) { e.integer(tagAttributeValue, aesKeyBits) })
		attribute(e, attrCryptographicUsageMask, func(e *encoder) {
			e.integer(tagAttributeValue, usageMaskEncrypt|usageMaskDecrypt)
		})
		e.end()
	})
}

// cryptParams writes the CryptographicParameters of Encrypt and Decrypt: AES-CBC with PKCS#5
// padding, and for Encrypt a server-chosen random IV.
func cryptParams(e *encoder, randomIV bool) {
	e.begin(tagCryptographicParameters)
	e.enumeration(tagBlockCipherMode, blockCipherModeCBC)
	e.enumeration(tagPaddingMethod, paddingMethodPKCS5)
	e.enumeration(tagCryptographicAlgorithm, cryptographicAlgorithmAES)
	if randomIV {
		e.boolean(tagRandomIV, true)
	}
	e.end()
}

// encryptRequest asks the server to encrypt plaintext under the key uid with a random IV.
func encryptRequest(uid string, plaintext []byte) []byte {
	return request(2, opEncrypt, func(e *encoder) {
		e.text(tagUniqueIdentifier, uid)
		cryptParams(e, true)
		e.bytes(tagData, plaintext)
	})
}

// decryptRequest asks the server to decrypt ciphertext under the key uid with iv.
func decryptRequest(uid string, iv, ciphertext []byte) []byte {
	return request(2, opDecrypt, func(e *encoder) {
		e.text(tagUniqueIdentifier, uid)
		cryptParams(e, false)
		e.bytes(tagData, ciphertext)
		e.bytes(tagIVCounterNonce, iv)
	})
}

// ResultError is a KMIP reply whose Result Status is not Success.
type ResultError struct {
	Status  uint32 // Result Status: 1 Operation Failed, 2 Operation Pending, 3 Operation Undone
	Reason  uint32 // Result Reason, 0 when the reply has none
	Message string // Result Message, "" when the reply has none
}

// Error describes the result: status, reason and the server's message, with their names.
func (e *ResultError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "KMIP result status %d (%s)", e.Status, statusName(e.Status))
	if e.Reason != 0 {
		fmt.Fprintf(&b, ", reason %d (%s)", e.Reason, reasonName(e.Reason))
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %q", truncate(e.Message, maxMessageInError))
	}
	return b.String()
}

// maxMessageInError caps the length of a server's Result Message quoted in an error.
const maxMessageInError = 256

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func statusName(s uint32) string {
	switch s {
	case 0:
		return "Success"
	case 1:
		return "Operation Failed"
	case 2:
		return "Operation Pending"
	case 3:
		return "Operation Undone"
	}
	return "unknown"
}

// reasonNames are the Result Reason values of KMIP 1.4 (9.1.3.2.29).
var reasonNames = map[uint32]string{
	0x01:  "Item Not Found",
	0x02:  "Response Too Large",
	0x03:  "Authentication Not Successful",
	0x04:  "Invalid Message",
	0x05:  "Operation Not Supported",
	0x06:  "Missing Data",
	0x07:  "Invalid Field",
	0x08:  "Feature Not Supported",
	0x09:  "Operation Canceled By Requester",
	0x0A:  "Cryptographic Failure",
	0x0B:  "Illegal Operation",
	0x0C:  "Permission Denied",
	0x0D:  "Object Archived",
	0x0E:  "Index Out of Bounds",
	0x0F:  "Application Namespace Not Supported",
	0x10:  "Key Format Type Not Supported",
	0x11:  "Key Compression Type Not Supported",
	0x12:  "Encoding Option Error",
	0x13:  "Key Value Not Present",
	0x14:  "Attestation Required",
	0x15:  "Attestation Failed",
	0x16:  "Sensitive",
	0x17:  "Not Extractable",
	0x18:  "Object Already Exists",
	0x100: "General Failure",
}

func reasonName(r uint32) string {
	if n, ok := reasonNames[r]; ok {
		return n
	}
	return "unknown"
}

// parseResponse decodes a response message to a request of operation op and returns the
// ResponsePayload of its single batch item:
//
//	ResponseMessage { ResponseHeader { ... }, BatchItem { Operation, ResultStatus,
//	                  [ResultReason], [ResultMessage], ResponsePayload { ... } } }
//
// A Result Status other than Success is returned as a *ResultError.
func parseResponse(msg []byte, op uint32) (item, error) {
	m, err := decode(msg)
	if err != nil {
		return item{}, err
	}
	if m.tag != tagResponseMessage || m.typ != typeStructure {
		return item{}, fmt.Errorf("reply is a %s %s, not a ResponseMessage", m.tag, m.typ)
	}
	if n := m.count(tagBatchItem); n != 1 {
		return item{}, fmt.Errorf("reply has %d batch items, want 1", n)
	}
	bi, err := m.child(tagBatchItem, typeStructure)
	if err != nil {
		return item{}, err
	}
	// The Operation is echoed in a reply to a request that named one; an error reply to a
	// request the server could not parse may lack it.
	if bi.has(tagOperation) {
		got, err := bi.enumeration(tagOperation)
		if err != nil {
			return item{}, err
		}
		if got != op {
			return item{}, fmt.Errorf("reply is for %s, not %s", opName(got), opName(op))
		}
	}
	status, err := bi.enumeration(tagResultStatus)
	if err != nil {
		return item{}, err
	}
	if status != statusSuccess {
		re := &ResultError{Status: status}
		if bi.has(tagResultReason) {
			if re.Reason, err = bi.enumeration(tagResultReason); err != nil {
				return item{}, err
			}
		}
		if bi.has(tagResultMessage) {
			if re.Message, err = bi.text(tagResultMessage); err != nil {
				return item{}, err
			}
		}
		return item{}, re
	}
	return bi.child(tagResponsePayload, typeStructure)
}

// uniqueIdentifier returns the UniqueIdentifier of a response payload. It must be a non-empty
// UTF-8 string without NUL bytes: it is stored as the keyId of the masterKey document.
func uniqueIdentifier(p item) (string, error) {
	uid, err := p.text(tagUniqueIdentifier)
	if err != nil {
		return "", err
	}
	if err := checkUID(uid); err != nil {
		return "", fmt.Errorf("reply %w", err)
	}
	return uid, nil
}

func checkUID(uid string) error {
	if uid == "" {
		return errors.New("UniqueIdentifier is empty")
	}
	if strings.IndexByte(uid, 0) >= 0 {
		return errors.New("UniqueIdentifier holds a NUL byte")
	}
	return nil
}

// checkSameUID checks that a reply about the object uid names that object, when it names one.
func checkSameUID(p item, uid string) error {
	if !p.has(tagUniqueIdentifier) {
		return nil
	}
	got, err := p.text(tagUniqueIdentifier)
	if err != nil {
		return err
	}
	if got != uid {
		return fmt.Errorf("reply is about object %q, not %q", truncate(got, 64), uid)
	}
	return nil
}

// secretData returns the key material of a Get reply for a SecretData object:
//
//	ResponsePayload { SecretData { KeyBlock { KeyValue { KeyMaterial } } } }
func secretData(p item) ([]byte, error) {
	sd, err := p.child(tagSecretData, typeStructure)
	if err != nil {
		if p.has(tagObjectType) {
			if ot, oerr := p.enumeration(tagObjectType); oerr == nil && ot != objectTypeSecretData {
				return nil, fmt.Errorf("the object is of KMIP object type %d, not SecretData (%d)", ot, objectTypeSecretData)
			}
		}
		return nil, err
	}
	kb, err := sd.child(tagKeyBlock, typeStructure)
	if err != nil {
		return nil, err
	}
	kv, err := kb.child(tagKeyValue, typeStructure)
	if err != nil {
		return nil, err
	}
	return kv.byteString(tagKeyMaterial)
}
