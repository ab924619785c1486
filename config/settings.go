package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// This file reads the declarations in Config's struct tags. It is a loop of
// our own rather than github.com/caarlos0/env/v11 because env sets
// envDefault over whatever the YAML file set, and its
// SetDefaultsForZeroValuesOnly would instead replace an explicit
// "workers: 0" that validation must report; it reads a map, not Load's
// getenv, so the names would have to be listed first anyway; its errors
// are worded its own way ("many" is not a whole number is what users see
// today); and Summary and the README test need a walk of the same tags.
// What is left to write is walk, applyDefaults, applyEnv and setText.

// Duration is a time.Duration that reads "90s" or "24h" from YAML.
type Duration time.Duration

// UnmarshalYAML accepts Go duration strings ("15s", "24h") and plain
// seconds. The error does not say where: Load puts it at its line and key.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML prints the duration as a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (use e.g. 30s, 5m, 24h)", s)
	}
	return v, nil
}

var durationType = reflect.TypeFor[Duration]()

// setting is one value the user sets under one YAML key, as its struct
// field declares it.
type setting struct {
	Key     string // YAML path, e.g. "ucontact.timeout"
	Env     string // environment variable, "" when the file alone sets it
	Default string // as it would be written in the environment; "" = zero
	Doc     string
	Secret  string        // "true", "url" or ""
	value   reflect.Value // the field in the Config being loaded
}

// label names a setting in a problem: "retention (DIALHOOK_RETENTION)".
func (s setting) label() string {
	if s.Env == "" {
		return s.Key
	}
	return s.Key + " (" + s.Env + ")"
}

// settingsOf lists the settings of c in declaration order, each holding
// its field of c. A struct field is a section whose fields are settings;
// a map, a pointer or a list is one setting documented on its own.
func settingsOf(c *Config) []setting {
	return walk(reflect.ValueOf(c).Elem(), "", nil)
}

func walk(v reflect.Value, prefix string, out []setting) []setting {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, inline := yamlName(f)
		if !f.IsExported() || name == "-" {
			continue
		}
		switch {
		case inline:
			out = walk(v.Field(i), prefix, out)
		case f.Type.Kind() == reflect.Struct && f.Type != durationType:
			out = walk(v.Field(i), prefix+name+".", out)
		default:
			out = append(out, setting{
				Key: prefix + name, Env: f.Tag.Get("env"), Default: f.Tag.Get("default"),
				Doc: f.Tag.Get("doc"), Secret: f.Tag.Get("secret"), value: v.Field(i),
			})
		}
	}
	return out
}

// yamlName is the key yaml.v3 reads a field under: its tag, else the
// field's name in lower case.
func yamlName(f reflect.StructField) (name string, inline bool) {
	name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, strings.Contains(opts, "inline")
}

// applyDefaults sets every declared default. A default that does not parse
// is a bug in the declaration, reported like any other problem (and caught
// by TestDefaultsAreWhatLoadGives).
func applyDefaults(all []setting, col *collector) {
	for _, s := range all {
		if s.Default == "" {
			continue
		}
		if err := setText(s.value, s.Default); err != nil {
			col.add(position{}, s.Key, "default: %v", err)
		}
	}
}

// applyEnv sets every setting whose environment variable is not empty,
// and remembers which, so that a problem with one is not shown at the
// line of the file it overrode.
func applyEnv(all []setting, getenv func(string) string, col *collector) {
	for _, s := range all {
		if s.Env == "" {
			continue
		}
		v := getenv(s.Env)
		if v == "" {
			continue
		}
		if err := setText(s.value, v); err != nil {
			col.add(position{}, s.label(), "%v", err)
			continue
		}
		col.fromEnv[s.Key] = true
	}
}

// setText parses text into the field v, as the environment writes it.
func setText(v reflect.Value, text string) error {
	if v.Type() == durationType {
		d, err := parseDuration(text)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(text)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(text), 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not a whole number", text)
		}
		v.SetInt(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(text))
		if err != nil {
			return fmt.Errorf("%q is not true or false", text)
		}
		v.SetBool(b)
	default:
		return fmt.Errorf("a %s cannot be read from text", v.Type())
	}
	return nil
}
