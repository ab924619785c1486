package samples

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"
)

// The signers compute what each CRM puts in its request, from the vendor's
// documentation (cited at each), never from crm's code. A bad key is a
// mistake in the test and panics.

// HubSpotV1 is X-HubSpot-Signature for X-HubSpot-Signature-Version v1: hex
// SHA-256 of the client secret followed by the body.
// https://developers.hubspot.com/docs/faq/v1-request-validation
func HubSpotV1(secret string, body []byte) string {
	s := sha256.Sum256([]byte(secret + string(body)))
	return hex.EncodeToString(s[:])
}

// HubSpotV2 is X-HubSpot-Signature for v2: hex SHA-256 of client secret,
// method, URI (exactly as requested, query included) and body.
// https://developers.hubspot.com/docs/faq/v2-request-validation
func HubSpotV2(secret, method, uri string, body []byte) string {
	s := sha256.Sum256([]byte(secret + method + uri + string(body)))
	return hex.EncodeToString(s[:])
}

// hubspotV3Decoder undoes the escapes HubSpot decodes in the URI before
// signing v3 (the table of "Validate the v3 request signature").
var hubspotV3Decoder = strings.NewReplacer(
	"%3A", ":", "%2F", "/", "%3F", "?", "%40", "@", "%21", "!", "%24", "$",
	"%27", "'", "%28", "(", "%29", ")", "%2A", "*", "%2C", ",", "%3B", ";")

// HubSpotV3 is X-HubSpot-Signature-v3: base64 HMAC-SHA256, keyed by the
// client secret, of method, URI (with the escapes of HubSpot's table
// decoded), body and X-HubSpot-Request-Timestamp (milliseconds).
// https://developers.hubspot.com/docs/api/webhooks/validating-requests
func HubSpotV3(secret, method, uri string, body []byte, timestamp string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(method + hubspotV3Decoder.Replace(uri) + string(body) + timestamp))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// CloseSignature is close-sig-hash: hex HMAC-SHA256, keyed by the
// hex-decoded signature_key, of close-sig-timestamp (seconds) followed by
// the body. https://developer.close.com/api/resources/webhooks
func CloseSignature(key, timestamp string, body []byte) string {
	k, err := hex.DecodeString(key)
	if err != nil {
		panic("samples: a Close key is hex: " + err.Error())
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(timestamp))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// StandardSignature is one webhook-signature (or svix-signature) entry:
// "v1," and base64 HMAC-SHA256, keyed by the base64-decoded secret (without
// its whsec_ prefix), of "msgID.timestamp.body".
// https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
func StandardSignature(secret, msgID, timestamp string, body []byte) string {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		panic("samples: a Standard Webhooks secret is base64: " + err.Error())
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(msgID + "." + timestamp + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// BasicAuth is the Authorization header Pipedrive sends for a webhook with
// HTTP Basic credentials (RFC 7617).
// https://pipedrive.readme.io/docs/guide-for-webhooks-v2
func BasicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// DynamicsCode is the query Dataverse adds for a webhook registered with
// WebhookKey authentication: code=key.
// https://learn.microsoft.com/power-apps/developer/data-platform/use-webhooks
func DynamicsCode(key string) string {
	return "code=" + url.QueryEscape(key)
}

// ZohoWithoutToken is ZohoLeadJSON or ZohoLeadForm without its token
// field, for a request that carries ZohoToken elsewhere (a header or the
// query, as a Zoho webhook's custom parameters can) or not at all.
func ZohoWithoutToken(name string) []byte {
	field := map[string]string{
		ZohoLeadJSON: `,"token":"` + ZohoToken + `"`,
		ZohoLeadForm: "&token=" + ZohoToken,
	}[name]
	b := Body(name)
	out := strings.Replace(string(b), field, "", 1)
	if field == "" || len(out) == len(b) {
		panic("samples: " + name + " is not a Zoho sample with a token field")
	}
	return []byte(out)
}
