package mapping

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// MaxLen is the longest value, in characters, each AgentCall parameter may
// have after mapping. A longer value is a mapping failure naming the field
// (and, for a constant or default, a start-up problem). The bounds are
// generous for what uContact expects in each (a campaign name such as
// "Ventas->", an extension, a dialplan context, an E.164 number) and small
// enough that a CRM field holding a pasted document never reaches the
// telephony platform, the event log or the logs.
var MaxLen = map[string]int{
	"callerid":    32,
	"agent":       64,
	"phone":       32,
	"tech":        16,
	"context":     64,
	"outqueue":    128,
	"destination": 32,
}

// maxLen is MaxLen by rule key index, read on every event without a map
// lookup; TestMaxLenTables keeps the two equal.
var maxLen = [kOwner]int{
	kCallerID: 32, kAgent: 64, kPhone: 32, kTech: 16, kContext: 64, kOutQueue: 128, kDestination: 32,
}

// valKind is what a value was in the record. Most parameters only need its
// text, but a phone number written as a JSON number with a fraction or an
// exponent has already lost its meaning (59899123456.0 reads as the digits
// 598991234560), so the phone parameters must know.
type valKind uint8

const (
	vkText       valKind = iota // a JSON string, boolean or nothing; a constant; a template of these
	vkWhole                     // a JSON number written as digits only
	vkFraction                  // a JSON number with a fraction or an exponent
	vkNegative                  // a negative JSON number
	vkStructured                // a JSON object or array
)

func kindOf(r gjson.Result) valKind {
	switch r.Type {
	case gjson.Number:
		raw := strings.TrimSpace(r.Raw)
		if raw == "" {
			raw = r.String()
		}
		switch {
		case strings.ContainsAny(raw, ".eE"):
			return vkFraction
		case strings.HasPrefix(raw, "-"):
			return vkNegative
		}
		return vkWhole
	case gjson.JSON:
		return vkStructured
	}
	return vkText
}

// phoneKindProblem says why a value of kind k cannot be a phone number, or "".
func phoneKindProblem(k valKind, v string) string {
	switch k {
	case vkFraction:
		return quote(v) + " is a JSON number with a fraction or exponent; send the phone number as text or as a whole number"
	case vkNegative:
		return quote(v) + " is a negative JSON number; send the phone number as text or as a whole number"
	case vkStructured:
		return quote(v) + " is a JSON object or array, not a phone number"
	}
	return ""
}

// quoteMax is how many bytes of a value a message quotes.
const quoteMax = 48

// quote is v quoted as %q does (control characters, invisible formatting
// characters and invalid UTF-8 visible), cut short for long values so that a
// field holding a whole document does not end up in every message.
func quote(v string) string {
	if len(v) <= quoteMax {
		return strconv.Quote(v)
	}
	cut := quoteMax
	for cut > quoteMax-utf8.UTFMax && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return strconv.Quote(v[:cut]) + "… (" + strconv.Itoa(len(v)) + " bytes)"
}

// forbidden reports the characters no parameter may hold: control
// characters (Cc: NUL, CR, LF, tab...), invisible formatting characters (Cf:
// bidi overrides such as U+202E, zero-width spaces, BOM) and the Unicode line
// and paragraph separators, all of which can split a log line or make a value
// read differently from what it is. Ordinary spaces are allowed.
func forbidden(r rune) bool {
	if r < utf8.RuneSelf {
		return r < 0x20 || r == 0x7f
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}

// textProblem says why v cannot be sent as a parameter of at most max
// characters, or "" when it can.
func textProblem(v string, max int) string {
	n := 0
	for i := 0; i < len(v); {
		r, size := rune(v[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(v[i:])
			if r == utf8.RuneError && size == 1 {
				return quote(v) + " is not valid UTF-8"
			}
		}
		n++
		if forbidden(r) {
			return quote(v) + " has a control or formatting character (" + runeName(r) + " at character " + strconv.Itoa(n) + ")"
		}
		if n > max {
			return quote(v) + " is longer than " + strconv.Itoa(max) + " characters"
		}
		i += size
	}
	return ""
}

// runeName names r for a message: U+202E '\u202e', U+002B '+'.
func runeName(r rune) string {
	s := strings.ToUpper(strconv.FormatInt(int64(r), 16))
	for len(s) < 4 {
		s = "0" + s
	}
	return "U+" + s + " " + strconv.QuoteRune(r)
}

// phoneSeparators are the characters people write between the digits of a
// phone number; they are read and dropped. Everything else except ASCII
// digits, a leading '+' and (when allowed) keypad letters is refused:
// a whitelist, so that no unforeseen character (a bidi override, a
// full-width digit, a stray '#') reaches the parser, which skips much of
// what it does not understand.
const phoneSeparators = " \u00a0-.()/"

const phoneSyntax = "a phone number is digits with an optional leading + and the separators space - . ( ) /"

// phoneTextProblem checks the characters of a phone number (trimmed of
// surrounding spaces): the whitelist, and letters only when letters is true.
// letterHint is appended to the message about letters.
func phoneTextProblem(s string, letters bool, letterHint string) string {
	hasLetter, hasDigit := false, false
	n := 0
	for i, r := range s {
		n++
		switch {
		case r >= '0' && r <= '9':
			hasDigit = true
		case r == '+' && i == 0:
		case strings.ContainsRune(phoneSeparators, r):
		case isLetter(r):
			hasLetter = true
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			return quote(s) + " is not valid UTF-8"
		default:
			return quote(s) + " has a character that is not allowed (" + runeName(r) + " at character " + strconv.Itoa(n) + "); " + phoneSyntax
		}
	}
	if hasLetter && !letters && hasDigit {
		return quote(s) + " has letters; " + phoneSyntax + letterHint
	}
	return ""
}

// extensionProblem checks an agent's phone or a fixed caller id: the phone
// characters without letters, and at least one digit. These are sent as
// written (an extension such as 1001 is not a phone number the phone
// library could check).
func extensionProblem(v string) string {
	s := strings.TrimSpace(v)
	if msg := phoneTextProblem(s, false, ""); msg != "" {
		return msg
	}
	if strings.IndexFunc(s, isLetter) >= 0 {
		return quote(s) + " has letters; " + phoneSyntax
	}
	if strings.IndexFunc(s, func(r rune) bool { return r >= '0' && r <= '9' }) < 0 {
		return quote(s) + " has no digits; " + phoneSyntax
	}
	return ""
}
