package console

import "testing"

func TestSecretName(t *testing.T) {
	for name, want := range map[string]bool{
		"Authorization": true, "X-HubSpot-Signature-v3": true, "close-sig-hash": true, "X-Dialhook-Token": true,
		"X-Api-Key": true, "Cookie": true, "webhook-signature": true, "code": true, "client_secret": true,
		"Content-Type": false, "User-Agent": false, "X-HubSpot-Request-Timestamp": false, "webhook-id": false, "zip_code": false, "Idempotency-Key": false,
	} {
		if got := secretName(name); got != want {
			t.Errorf("secretName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestMaskQueryAndPlaceholders(t *testing.T) {
	if got, want := maskQuery("/webhooks/d?code=abc&lead=1&token=x%20y"), "/webhooks/d?code="+masked+"&lead=1&token="+masked; got != want {
		t.Errorf("maskQuery = %q, want %q", got, want)
	}
	if got := mapQuery("code=abc&lead=1", placeholder); got != "code=<CODE>&lead=1" {
		t.Errorf("mapQuery = %q", got)
	}
	for name, want := range map[string]string{"X-HubSpot-Signature-v3": "<HUBSPOT_SIGNATURE_V3>", "Authorization": "<AUTHORIZATION>"} {
		if got := placeholder(name); got != want {
			t.Errorf("placeholder(%q) = %q, want %q", name, got, want)
		}
	}
	for v, want := range map[string]bool{"***": true, "••••": true, "": false, "a*": false} {
		if got := maskedAlready(v); got != want {
			t.Errorf("maskedAlready(%q) = %v", v, got)
		}
	}
}

func TestRedactor(t *testing.T) {
	r := newRedactor([]string{"short", "", "long-secret-1", "long-secret-1-and-more", "long-secret-1"})
	if got := r.Replace("a long-secret-1-and-more b long-secret-1 c short"); got != "a "+masked+" b "+masked+" c short" {
		t.Errorf("Replace = %q", got)
	}
	if got := newRedactor(nil).Replace("anything"); got != "anything" {
		t.Errorf("an empty redactor changed %q", got)
	}
}
