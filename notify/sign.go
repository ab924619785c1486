package notify

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The headers of every message, as the spec names them.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp" // unix seconds of the attempt
	HeaderSignature = "webhook-signature" // "v1,<base64>"; several space-separated
)

// SecretPrefix starts every symmetric Standard Webhooks secret.
const SecretPrefix = "whsec_"

// The key sizes: the spec's table ("Signing secret: Random. At least 24
// bytes (192 bits, 512 maximum)") bounds them; NewSecret makes 32.
const (
	MinSecretBytes = 24
	MaxSecretBytes = 64
	NewSecretBytes = 32
)

// What ParseSecret refuses, for errors.Is. None of them, nor the errors
// that wrap them, holds any part of the secret.
var (
	ErrSecretEmpty  = errors.New("the secret is empty")
	ErrSecretPrefix = errors.New("the secret does not start with " + SecretPrefix)
	ErrSecretBase64 = errors.New("the secret is not " + SecretPrefix + " followed by standard base64")
	ErrSecretSize   = errors.New("the secret's key must be 24 to 64 bytes")
)

// ParseSecret decodes a whsec_ secret into the HMAC key: whsec_, then
// standard padded base64 (what the reference Go library decodes) of 24 to
// 64 bytes. Unlike the sources of kind standard, which read what other
// senders hand out, it takes no other form: these secrets are dialhook's
// own (`dialhook secret` prints one), and the receiver's library must read
// the same text.
func ParseSecret(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, ErrSecretEmpty
	}
	rest, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, ErrSecretPrefix
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		// A CorruptInputError says only at which byte: nothing of the secret.
		return nil, fmt.Errorf("%w (%v)", ErrSecretBase64, err)
	}
	if len(key) < MinSecretBytes || len(key) > MaxSecretBytes {
		return nil, fmt.Errorf("%w (it has %d)", ErrSecretSize, len(key))
	}
	return key, nil
}

// NewSecret returns a fresh secret: whsec_ and the padded base64 of 32
// bytes from crypto/rand (which never fails: Go stops the program rather
// than return weak randomness).
func NewSecret() string {
	b := make([]byte, NewSecretBytes)
	_, _ = rand.Read(b)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// Sign returns the webhook-signature entry of one attempt: "v1," and the
// base64 of HMAC-SHA256, keyed by secret (ParseSecret's key), of
// "{id}.{unix seconds of ts}.{body}", the spec's signed content.
func Sign(secret []byte, id string, ts time.Time, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, ts.Unix(), 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}
