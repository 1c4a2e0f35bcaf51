package kmip

import (
	"bytes"
	"errors"
	"testing"
)

// Request messages byte for byte against libmongocrypt's tests (testdata/SOURCE.txt).
func TestRequestVectors(t *testing.T) {
	const (
		kmsCtx    = "test-mongocrypt-kms-ctx"
		broker    = "test-mongocrypt-key-broker"
		kmsMsgReq = "test_kms_kmip_request"
	)
	plaintext := vector(t, kmsCtx, "PLAINTEXT")
	ivCiphertext := vector(t, kmsCtx, "IV_CIPHERTEXT")
	cases := []struct {
		name      string
		dir, file string
		got       []byte
	}{
		{"register 96 zero bytes", kmsCtx, "REGISTER_REQUEST", registerRequest(make([]byte, 96))},
		{"register secret", kmsMsgReq, "REGISTER_SECRETDATA_REQUEST", registerRequest(vector(t, kmsMsgReq, "REGISTER_SECRETDATA_SECRETDATA"))},
		{"activate 39", kmsCtx, "ACTIVATE_REQUEST", activateRequest("39")},
		{"activate long id", kmsMsgReq, "ACTIVATE_REQUEST", activateRequest("7FJYvnV6XkaUCWuY96bCSc6AuhvkPpqI")},
		{"get 39", kmsCtx, "GET_REQUEST", getRequest("39")},
		{"get long id", kmsMsgReq, "GET_REQUEST", getRequest("7FJYvnV6XkaUCWuY96bCSc6AuhvkPpqI")},
		{"get key document", broker, "EXPECTED_GET_REQUEST", getRequest("ywxrSj5TLjswd1G4oGFJ6hwWgtTsQip0")},
		{"create", kmsCtx, "CREATE_REQUEST", createRequest()},
		{"encrypt", kmsCtx, "ENCRYPT_REQUEST", encryptRequest("111", plaintext)},
		{"decrypt", kmsCtx, "DECRYPT_REQUEST", decryptRequest("111", ivCiphertext[:16], ivCiphertext[16:])},
	}
	for _, c := range cases {
		want := vector(t, c.dir, c.file)
		if !bytes.Equal(c.got, want) {
			t.Errorf("%s: request differs from %s/%s\n got %x\nwant %x", c.name, c.dir, c.file, c.got, want)
		}
		// The requests decode, and no strict prefix does.
		if _, err := decode(c.got); err != nil {
			t.Errorf("%s: own request does not decode: %v", c.name, err)
		}
		for n := 0; n < len(c.got); n++ {
			if _, err := decode(c.got[:n]); err == nil {
				t.Errorf("%s: the %d-byte prefix decodes", c.name, n)
				break
			}
		}
	}
}

// Replies of libmongocrypt's tests, parsed as the provider parses them.
func TestResponseVectors(t *testing.T) {
	const (
		kmsCtx  = "test-mongocrypt-kms-ctx"
		broker  = "test-mongocrypt-key-broker"
		kmsResp = "test_kms_kmip_response"
	)
	uid := func(dir, file string, op uint32, want string) {
		t.Helper()
		p, err := parseResponse(vector(t, dir, file), op)
		if err != nil {
			t.Errorf("%s/%s: %v", dir, file, err)
			return
		}
		got, err := uniqueIdentifier(p)
		if err != nil || got != want {
			t.Errorf("%s/%s: UniqueIdentifier %q, %v; want %q", dir, file, got, err, want)
		}
	}
	uid(kmsCtx, "SUCCESS_REGISTER_RESPONSE", opRegister, "39")
	uid(kmsResp, "SUCCESS_REGISTER_RESPONSE", opRegister, "39")
	uid(kmsCtx, "SUCCESS_CREATE_RESPONSE", opCreate, "108")

	// libmongocrypt's Activate reply vector is a copy of its Register reply: it names the
	// Register operation. libmongocrypt does not look at the Operation of a reply; this
	// provider refuses a reply to another operation than the one it asked for.
	if _, err := parseResponse(vector(t, kmsCtx, "SUCCESS_ACTIVATE_RESPONSE"), opActivate); err == nil {
		t.Error("a reply naming Register was accepted for Activate")
	}

	secret := func(dir, file, wantDir, wantFile string) {
		t.Helper()
		p, err := parseResponse(vector(t, dir, file), opGet)
		if err != nil {
			t.Errorf("%s/%s: %v", dir, file, err)
			return
		}
		got, err := secretData(p)
		if err != nil || !bytes.Equal(got, vector(t, wantDir, wantFile)) {
			t.Errorf("%s/%s: secret %x, %v", dir, file, got, err)
		}
	}
	secret(kmsCtx, "SUCCESS_GET_RESPONSE", kmsCtx, "SUCCESS_GET_RESPONSE_SECRETDATA")
	secret(kmsResp, "SUCCESS_GET_RESPONSE", kmsResp, "SUCCESS_GET_RESPONSE_SECRETDATA")
	// The reply to the key document's Get holds the KEK of the key document.
	p, err := parseResponse(vector(t, broker, "SUCCESS_GET_RESPONSE"), opGet)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkSameUID(p, "ywxrSj5TLjswd1G4oGFJ6hwWgtTsQip0"); err != nil {
		t.Error(err)
	}
	if _, err := secretData(p); err != nil {
		t.Error(err)
	}

	for _, dir := range []string{broker, kmsResp} {
		_, err := parseResponse(vector(t, dir, "ERROR_GET_RESPOSE_NOTFOUND"), opGet)
		var re *ResultError
		if !errors.As(err, &re) {
			t.Fatalf("%s: error %v is not a *ResultError", dir, err)
		}
		if *re != (ResultError{Status: 1, Reason: 1, Message: "ResultReasonItemNotFound"}) {
			t.Errorf("%s: %+v", dir, *re)
		}
		const want = `KMIP result status 1 (Operation Failed), reason 1 (Item Not Found): "ResultReasonItemNotFound"`
		if re.Error() != want {
			t.Errorf("%s: error %q, want %q", dir, re.Error(), want)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	valid := vector(t, "test-mongocrypt-kms-ctx", "SUCCESS_GET_RESPONSE")
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), valid...)) }
	cases := map[string][]byte{
		"empty":             {},
		"short header":      valid[:7],
		"trailing bytes":    append(append([]byte(nil), valid...), 0, 0, 0, 0, 0, 0, 0, 0),
		"bad tag prefix":    mutate(func(b []byte) []byte { b[0] = 0x41; return b }),
		"unknown type":      mutate(func(b []byte) []byte { b[3] = 0x0C; return b }),
		"length too long":   mutate(func(b []byte) []byte { b[7]++; return b }),
		"structure not x8":  mutate(func(b []byte) []byte { b[7]--; return b[:len(b)-1] }),
		"integer length 8":  {0x42, 0x00, 0x0d, 0x02, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0},
		"enum length 0":     {0x42, 0x00, 0x5c, 0x05, 0, 0, 0, 0},
		"bool length 4":     {0x42, 0x00, 0xc5, 0x06, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0},
		"bigint length 0":   {0x42, 0x00, 0x01, 0x04, 0, 0, 0, 0},
		"text no padding":   {0x42, 0x00, 0x94, 0x07, 0, 0, 0, 2, '3', '9'},
		"child past parent": {0x42, 0x00, 0x7b, 0x01, 0, 0, 0, 8, 0x42, 0x00, 0x94, 0x07, 0, 0, 0, 2, '3', '9', 0, 0, 0, 0, 0, 0},
	}
	for name, b := range cases {
		if _, err := decode(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	// Nesting deeper than maxDepth.
	var e encoder
	for i := 0; i <= maxDepth; i++ {
		e.begin(tagKeyValue)
	}
	for i := 0; i <= maxDepth; i++ {
		e.end()
	}
	if _, err := decode(e.finish()); err == nil {
		t.Error("structures nested deeper than maxDepth decoded")
	}
}

func TestParseResponseRefuses(t *testing.T) {
	// message builds ResponseMessage { BatchItem { ... } x n } with the batch items written by bi.
	message := func(n int, bi func(e *encoder)) []byte {
		var e encoder
		e.begin(tagResponseMessage)
		for i := 0; i < n; i++ {
			e.begin(tagBatchItem)
			bi(&e)
			e.end()
		}
		e.end()
		return e.finish()
	}
	okItem := func(e *encoder) {
		e.enumeration(tagOperation, opGet)
		e.enumeration(tagResultStatus, statusSuccess)
		e.begin(tagResponsePayload)
		e.end()
	}
	if _, err := parseResponse(message(1, okItem), opGet); err != nil {
		t.Fatalf("minimal reply refused: %v", err)
	}
	cases := map[string][]byte{
		"request message":  getRequest("1"),
		"no batch item":    message(0, okItem),
		"two batch items":  message(2, okItem),
		"other operation":  uidResponse(opActivate, "1"),
		"no payload":       okResponse(opGet, nil),
		"no result status": message(1, func(e *encoder) { e.enumeration(tagOperation, opGet) }),
		"status as integer": message(1, func(e *encoder) {
			e.integer(tagResultStatus, 0)
			e.begin(tagResponsePayload)
			e.end()
		}),
		"payload as bytes": message(1, func(e *encoder) {
			e.enumeration(tagResultStatus, 0)
			e.bytes(tagResponsePayload, nil)
		}),
		"reason as text": message(1, func(e *encoder) {
			e.enumeration(tagResultStatus, 1)
			e.text(tagResultReason, "x")
		}),
		"message not UTF-8": message(1, func(e *encoder) {
			e.enumeration(tagResultStatus, 1)
			e.text(tagResultMessage, "\xff")
		}),
	}
	for name, b := range cases {
		if _, err := parseResponse(b, opGet); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}
