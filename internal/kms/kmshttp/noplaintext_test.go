package kmshttp

import (
	"strings"
	"testing"
	"time"
)

// TestReplyErrorsQuoteNothing feeds malformed KMS and token replies that hold a secret-looking
// marker where encoding/json would quote it: the errors say what is wrong and quote nothing.
func TestReplyErrorsQuoteNothing(t *testing.T) {
	for _, body := range []string{
		`S3CRET`,                       // syntax error on the first character
		`{"access_token": S3CRET}`,     // syntax error inside the object
		`987654`,                       // a number, not an object
		`["S3CRET", 987654]`,           // an array, not an object
		`{"access_token": "S3CRET"`,    // truncated
		`{"access_token": "S3CRET"} x`, // data after the object
	} {
		_, err := ReplyString([]byte(body), "access_token")
		_, terr := ParseTokenReply([]byte(body), time.Now(), 0)
		for _, e := range []error{err, terr} {
			if e == nil {
				t.Fatalf("%s: accepted", body)
			}
			for _, m := range []string{"S3CRET", "S'", "'S", "987654"} {
				if strings.Contains(e.Error(), m) {
					t.Fatalf("%s: error %q quotes the reply (%q)", body, e, m)
				}
			}
			if !strings.Contains(e.Error(), "not a JSON object") {
				t.Fatalf("%s: error %q does not say the reply is not a JSON object", body, e)
			}
		}
	}
}
