package mapping

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// Output formats of PhoneOptions.Format.
const (
	FormatDigits   = "digits"   // E.164 without '+': 59899123456 (the default)
	FormatE164     = "e164"     // +59899123456
	FormatNational = "national" // 099123456: national prefix, digits only
)

// PhoneOptions says how customer numbers are read and written.
type PhoneOptions struct {
	DefaultRegion string `yaml:"default_region"` // ISO 3166 alpha-2; "" = numbers are international
	Format        string `yaml:"format"`         // e164|digits|national; "" = digits
	Prefix        string `yaml:"prefix"`         // prepended after formatting (e.g. a trunk digit)
	// AllowLetters reads keypad letters (1-800-FLOWERS) as their digits.
	// Off by default: a letter in a CRM's phone field is far more often a
	// note ("099 123 456 call after 5") than a vanity number, and the
	// parser would turn the note into digits and dial them.
	AllowLetters bool `yaml:"allow_letters"`
	// AllowInvalid dials, with a warning, numbers of a possible length that
	// the phone library says are not in use in their country. Off by default:
	// such a number is far more often a typo than a new range; the opt-in is
	// there because numbering plans change faster than the library.
	AllowInvalid bool `yaml:"allow_invalid"`
}

// maxPhoneInput is the longest text read as a phone number: phonenumbers
// rejects very long input itself, but only after copying it around, and a
// phone number written with every separator never needs more.
const maxPhoneInput = 64

// maxPrefix bounds phone.prefix so that prefix and the longest E.164
// number ('+' and 15 digits) fit in MaxLen["destination"].
const maxPrefix = 16

func validFormat(f string) bool {
	switch f {
	case "", FormatDigits, FormatE164, FormatNational:
		return true
	}
	return false
}

func validRegion(r string) bool {
	if len(r) != 2 {
		return false
	}
	return phonenumbers.GetCountryCodeForRegion(r) != 0
}

// NormalizePhone parses raw as a phone number and formats it as opts says.
//
// region (else opts.DefaultRegion) is the ISO 3166 alpha-2 code used to read
// numbers written without a country code. With no region the number is read
// as international: a leading "+" or "00" is optional, so digit-only numbers
// such as 59899123456 pass through unchanged.
//
// Only ASCII digits, a leading '+' and the separators space, no-break space,
// '-', '.', '(', ')' and '/' are read; letters only with opts.AllowLetters
// (keypad letters, converted by the phone library). Anything else, a number
// that is not even possible (wrong length, unknown country code, not a
// number), a number with an extension, and a possible number that is not
// valid for its country are errors naming raw. With opts.AllowInvalid the
// last is returned with a warning instead: numbering plans change faster
// than libraries.
func NormalizePhone(raw, region string, opts PhoneOptions) (number string, warning string, err error) {
	if region == "" {
		region = opts.DefaultRegion
	}
	region = strings.ToUpper(region)
	format := strings.ToLower(opts.Format)
	if !validFormat(format) {
		return "", "", fmt.Errorf("unknown phone format %q (want e164, digits or national)", opts.Format)
	}
	if region != "" && !validRegion(region) {
		return "", "", fmt.Errorf("unknown region %q", region)
	}
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", "", notPossible(raw, "empty")
	}
	if len(s) > maxPhoneInput {
		return "", "", notPossible(raw, "too long")
	}
	hint := "; set phone.allow_letters: true to read keypad letters such as 1-800-FLOWERS"
	if msg := phoneTextProblem(s, opts.AllowLetters, hint); msg != "" {
		return "", "", errors.New(msg)
	}
	num, err := parsePhone(raw, s, region)
	if err != nil {
		return "", "", err
	}
	switch format {
	case FormatE164:
		number = phonenumbers.Format(num, phonenumbers.E164)
	case FormatNational:
		number = Digits(phonenumbers.Format(num, phonenumbers.NATIONAL))
	default:
		number = phonenumbers.Format(num, phonenumbers.E164)[1:]
	}
	if !phonenumbers.IsValidNumber(num) {
		where := phonenumbers.GetRegionCodeForCountryCode(int(num.GetCountryCode()))
		if !opts.AllowInvalid {
			return "", "", fmt.Errorf("%s is not a valid %s number (a possible length, but not in use per the phone library); set phone.allow_invalid: true to dial such numbers anyway", quote(raw), where)
		}
		warning = fmt.Sprintf("%s is a possible but not a valid %s number; dialing it anyway", quote(raw), where)
	}
	return opts.Prefix + number, warning, nil
}

// parsePhone parses s (raw trimmed and checked) and checks that the result
// is a possible number without an extension.
func parsePhone(raw, s, region string) (*phonenumbers.PhoneNumber, error) {
	parseRegion := region
	if region == "" {
		s = international(s)
		parseRegion = "ZZ"
	}
	num, perr := phonenumbers.Parse(s, parseRegion)
	if perr != nil {
		why := parseReason(perr)
		if errors.Is(perr, phonenumbers.ErrNotANumber) {
			// phonenumbers calls "+12" not a number; for a person it is too short.
			if d := len(Digits(s)); d > 0 && d < 4 && strings.IndexFunc(s, isLetter) < 0 {
				why = "too short"
			}
		}
		return nil, notPossible(raw, why)
	}
	if ext := num.GetExtension(); ext != "" {
		// Only letters ("ext. 12", "x12") make an extension through the
		// character check. Dialing the number without it would reach a
		// switchboard rather than the person.
		return nil, fmt.Errorf("%s has an extension (%s), which cannot be dialed; keep only the number in this field", quote(raw), ext)
	}
	if why := phonenumbers.IsPossibleNumberWithReason(num); why != phonenumbers.IS_POSSIBLE {
		return nil, notPossible(raw, possibleReason(why))
	}
	return num, nil
}

// international rewrites a number read without a region so that
// phonenumbers sees a leading '+': "00598 99..." and "598 99..." both become
// "+598...". Leading punctuation such as "(" is dropped.
func international(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return r == '+' || (r >= '0' && r <= '9') })
	if i < 0 {
		return s // not a number; let the parser say so
	}
	s = s[i:]
	if s[0] == '+' {
		return s
	}
	s = strings.TrimPrefix(s, "00")
	if strings.IndexFunc(s, isLetter) >= 0 {
		// Extensions ("ext. 12") and vanity letters: keep the text for the parser.
		return "+" + s
	}
	return "+" + Digits(s)
}

func isLetter(r rune) bool { return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') }

// Digits keeps the digits of s ("+598 99-123" → "59899123"); s itself when
// it has nothing else.
func Digits(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b = append(b, s[i])
		}
	}
	return string(b)
}

func notPossible(raw, why string) error {
	return fmt.Errorf("%s is not a possible phone number (%s)", quote(raw), why)
}

func parseReason(err error) string {
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		return "unknown country code"
	case errors.Is(err, phonenumbers.ErrNotANumber):
		return "not a number"
	case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
		return "too short"
	case errors.Is(err, phonenumbers.ErrNumTooLong):
		return "too long"
	}
	return err.Error()
}

func possibleReason(r phonenumbers.ValidationResult) string {
	switch r {
	case phonenumbers.INVALID_COUNTRY_CODE:
		return "unknown country code"
	case phonenumbers.TOO_SHORT:
		return "too short"
	case phonenumbers.TOO_LONG:
		return "too long"
	case phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		return "only dialable locally: add the area code"
	}
	return "invalid length"
}

// phoneCacheMax bounds a Mapper's phoneCache; when full it starts over.
const phoneCacheMax = 4096

// phoneCache keeps NormalizePhone's answers for one Mapper, whose region and
// options are fixed. NormalizePhone is a pure function and its parser is
// the costliest step of mapping (about half of a webhook's CPU time and most
// of its allocations): a caller id that every event of a source carries, and
// every redelivery of an event, is parsed once.
type phoneCache struct {
	mu sync.RWMutex
	m  map[string]phoneAnswer
}

type phoneAnswer struct {
	number, warning string
	err             error
}

// normalizePhone is NormalizePhone with the Mapper's region and options,
// answered from its cache when the same raw value was seen before.
func (m *Mapper) normalizePhone(raw string) (number, warning string, err error) {
	c := m.phones
	if c == nil || len(raw) > maxPhoneInput {
		// A value this long is refused at once; keeping it would let one
		// event pin a large string in the cache.
		return NormalizePhone(raw, m.region, m.phone)
	}
	c.mu.RLock()
	a, ok := c.m[raw]
	c.mu.RUnlock()
	if ok {
		return a.number, a.warning, a.err
	}
	number, warning, err = NormalizePhone(raw, m.region, m.phone)
	c.mu.Lock()
	if len(c.m) >= phoneCacheMax {
		clear(c.m)
	}
	// raw may be a substring of a whole record: keep a copy of it only.
	c.m[strings.Clone(raw)] = phoneAnswer{number, warning, err}
	c.mu.Unlock()
	return number, warning, err
}

// DestinationE164 reads a destination as Map wrote it (phone.format, then
// phone.prefix) back into E.164 with its '+', for what depends on the
// number's country (a call window in the called party's time zone); "" when
// it cannot be read back (a national number and no region).
func (m *Mapper) DestinationE164(dest string) string {
	s := strings.TrimPrefix(dest, m.phone.Prefix)
	switch m.phone.Format {
	case FormatE164:
		return s
	case FormatNational:
		if m.region == "" {
			return ""
		}
		num, err := phonenumbers.Parse(s, m.region)
		if err != nil {
			return ""
		}
		return phonenumbers.Format(num, phonenumbers.E164)
	}
	if s == "" {
		return ""
	}
	return "+" + s
}
