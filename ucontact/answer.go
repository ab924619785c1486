package ucontact

// Reading uContact's answers: getUserToken's token list, AgentCall's GUID
// or "0".

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

// parseLoginAnswer reads getUserToken's answer: a JSON list whose last item
// is the token, or 0 for bad credentials.
func parseLoginAnswer(status int, body []byte, secrets ...string) (string, error) {
	b := bytes.TrimSpace(body)
	if string(b) == "0" || string(b) == `"0"` {
		return "", ErrLoginFailed
	}
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil || len(items) == 0 {
		return "", unexpected(status, body, secrets...)
	}
	var tok string
	if err := json.Unmarshal(items[len(items)-1], &tok); err != nil {
		return "", unexpected(status, body, secrets...)
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || tok == "0" {
		return "", ErrLoginFailed
	}
	if !validToken(tok) {
		// Not echoing the body: it holds what may be a token.
		return "", &UnexpectedAnswerError{Status: status, Body: "(token with spaces or control characters)"}
	}
	return tok, nil
}

// ParseAnswer interprets the body of a 2xx AgentCall answer: a GUID (blanks
// around it, or JSON quotes, are ignored) is the call's id; "0" is
// ErrRejected; anything else, including the nil GUID, is an
// *UnexpectedAnswerError with Status 200.
func ParseAnswer(body []byte) (uuid.UUID, error) {
	return parseAnswer(http.StatusOK, body)
}

func parseAnswer(status int, body []byte, secrets ...string) (uuid.UUID, error) {
	b := bytes.TrimSpace(body)
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = bytes.TrimSpace(b[1 : len(b)-1])
	}
	if len(b) == 1 && b[0] == '0' {
		return uuid.Nil, ErrRejected
	}
	if id, err := uuid.ParseBytes(b); err == nil && id != uuid.Nil {
		return id, nil
	}
	return uuid.Nil, unexpected(status, body, secrets...)
}

// unexpected builds an *UnexpectedAnswerError, removing every secret from
// the body before cutting it (so no prefix of a secret survives the cut).
func unexpected(status int, body []byte, secrets ...string) *UnexpectedAnswerError {
	s := string(body)
	if len(s) > maxAnswer {
		s = s[:maxAnswer]
	}
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	return &UnexpectedAnswerError{Status: status, Body: truncateUTF8(s, maxBodyInError)}
}
