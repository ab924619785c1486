package notify_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"dialhook/notify"
)

// The published test vector of Standard Webhooks: the reference Go
// library's TestWebhookSign
// (https://github.com/standard-webhooks/standard-webhooks/blob/main/libraries/go/webhook_test.go),
// also used by the other reference libraries' tests and Svix's "verifying
// payloads manually" page.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var (
	errMissing = errors.New("missing header")
	errTooOld  = errors.New("timestamp outside the tolerance")
	errNoMatch = errors.New("no matching signature")
)

// verify is a receiver written from the spec alone
// (spec/standard-webhooks.md: "Signature scheme", "Webhook headers",
// "Verifying signatures"), sharing no code with notify's signer: the key
// is the base64 after whsec_; the signed content is
// "{webhook-id}.{webhook-timestamp}.{body}" as the headers give them;
// webhook-signature is a space-delimited list of "version,base64" of
// which any v1 entry may match, compared in constant time; the timestamp
// must be within 5 minutes of now (the reference libraries' tolerance).
func verify(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errMissing
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return errTooOld
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, entry := range strings.Split(sigs, " ") {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue // v1a (asymmetric) and unknown versions are not ours to check
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errNoMatch
}

func vectorHeader(id string, ts int64, sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	h.Set("webhook-signature", sig)
	return h
}

// The verifier is right before it judges notify: it accepts the published
// vector and refuses every part of it changed.
func TestVerifierAgreesWithThePublishedVector(t *testing.T) {
	at := time.Unix(vectorTimestamp, 0)
	other := "whsec_" + base64.StdEncoding.EncodeToString([]byte("another-key-of-24-bytes!"))
	cases := []struct {
		name   string
		secret string
		h      http.Header
		body   string
		now    time.Time
		want   error
	}{
		{"the vector", vectorSecret, vectorHeader(vectorID, vectorTimestamp, vectorSignature), vectorBody, at, nil},
		{"among others", vectorSecret, vectorHeader(vectorID, vectorTimestamp,
			"v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg== v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= "+vectorSignature), vectorBody, at, nil},
		{"body changed", vectorSecret, vectorHeader(vectorID, vectorTimestamp, vectorSignature), `{"test": 2432232315}`, at, errNoMatch},
		{"id changed", vectorSecret, vectorHeader("msg_other", vectorTimestamp, vectorSignature), vectorBody, at, errNoMatch},
		{"timestamp changed", vectorSecret, vectorHeader(vectorID, vectorTimestamp+1, vectorSignature), vectorBody, at, errNoMatch},
		{"other secret", other, vectorHeader(vectorID, vectorTimestamp, vectorSignature), vectorBody, at, errNoMatch},
		{"wrong version", vectorSecret, vectorHeader(vectorID, vectorTimestamp, "v2"+vectorSignature[2:]), vectorBody, at, errNoMatch},
		{"too old", vectorSecret, vectorHeader(vectorID, vectorTimestamp, vectorSignature), vectorBody, at.Add(6 * time.Minute), errTooOld},
		{"no signature", vectorSecret, vectorHeader(vectorID, vectorTimestamp, ""), vectorBody, at, errMissing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := verify(tc.secret, tc.h, []byte(tc.body), tc.now); !errors.Is(err, tc.want) {
				t.Fatalf("verify = %v, want %v", err, tc.want)
			}
		})
	}
}

// Sign gives the published signature, and the independent verifier
// accepts what Sign makes for other ids, times and bodies.
func TestSign(t *testing.T) {
	key, err := notify.ParseSecret(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := notify.Sign(key, vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody)); got != vectorSignature {
		t.Fatalf("Sign(vector) = %s, want %s", got, vectorSignature)
	}
	// The fraction of a second is not signed: the header carries whole seconds.
	if got := notify.Sign(key, vectorID, time.Unix(vectorTimestamp, 999_999_999), []byte(vectorBody)); got != vectorSignature {
		t.Fatalf("Sign with nanoseconds = %s, want %s", got, vectorSignature)
	}
	secret := notify.NewSecret()
	key, err = notify.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for _, body := range []string{"", "{}", `{"type":"call.completed","data":{"ü":"<&>"}}`, strings.Repeat("x", 100_000)} {
		id := notify.MessageID("ev-1", notify.CallCompleted)
		h := vectorHeader(id, now.Unix(), notify.Sign(key, id, now, []byte(body)))
		if err := verify(secret, h, []byte(body), now); err != nil {
			t.Errorf("body of %d bytes: %v", len(body), err)
		}
	}
}

func TestParseSecret(t *testing.T) {
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	cases := []struct {
		name, secret string
		size         int
		want         error
	}{
		{"the vector's (24 bytes)", vectorSecret, 24, nil},
		{"32 bytes", "whsec_" + b64(32), 32, nil},
		{"64 bytes", "whsec_" + b64(64), 64, nil},
		{"surrounding space", " whsec_" + b64(32) + "\n", 32, nil},
		{"empty", "", 0, notify.ErrSecretEmpty},
		{"blank", "  ", 0, notify.ErrSecretEmpty},
		{"no prefix", b64(32), 0, notify.ErrSecretPrefix},
		{"another prefix", "whsk_" + b64(32), 0, notify.ErrSecretPrefix},
		{"not base64", "whsec_not base64 at all!", 0, notify.ErrSecretBase64},
		{"unpadded", "whsec_" + strings.TrimRight(b64(32), "="), 0, notify.ErrSecretBase64},
		{"URL-safe", "whsec_" + base64.URLEncoding.EncodeToString([]byte{0xfb, 0xff, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21}), 0, notify.ErrSecretBase64},
		{"only the prefix", "whsec_", 0, notify.ErrSecretSize},
		{"23 bytes", "whsec_" + b64(23), 0, notify.ErrSecretSize},
		{"65 bytes", "whsec_" + b64(65), 0, notify.ErrSecretSize},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key, err := notify.ParseSecret(tc.secret)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if len(key) != tc.size {
				t.Fatalf("key of %d bytes, want %d", len(key), tc.size)
			}
			if err != nil && len(tc.secret) > 8 && strings.Contains(err.Error(), strings.TrimSpace(tc.secret)[6:]) {
				t.Fatalf("the error shows the secret: %v", err)
			}
		})
	}
}

func TestNewSecret(t *testing.T) {
	a, b := notify.NewSecret(), notify.NewSecret()
	if a == b {
		t.Fatal("two secrets are the same")
	}
	key, err := notify.ParseSecret(a)
	if err != nil || len(key) != notify.NewSecretBytes {
		t.Fatalf("NewSecret() = %q: key of %d bytes, %v", a, len(key), err)
	}
}
