package config

import (
	"fmt"
	"reflect"
	"time"

	"dialhook/store/redisurl"
)

// Mask hides a secret, keeping only whether it is set.
func Mask(s string) string {
	if s == "" {
		return ""
	}
	return "***"
}

// Summary is the configuration as it may be logged: every setting under its
// YAML key, nested as in the file, with the fields tagged secret masked
// (sources' secrets included) and durations written as "24h0m0s".
func (c Config) Summary() map[string]any {
	m := map[string]any{"config_file": c.File}
	summarizeStruct(reflect.ValueOf(c), m)
	return m
}

func summarizeStruct(v reflect.Value, into map[string]any) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, inline := yamlName(f)
		if !f.IsExported() || name == "-" {
			continue
		}
		if inline {
			summarizeStruct(v.Field(i), into)
			continue
		}
		into[name] = masked(f.Tag.Get("secret"), v.Field(i))
	}
}

// masked summarizes v, hiding it when the field is tagged secret: a URL
// keeps all but its password, a map its keys, anything else whether it is
// set.
func masked(secret string, v reflect.Value) any {
	switch {
	case secret == "":
		return summarize(v)
	case secret == "url":
		return redisurl.Mask(v.String())
	case v.IsZero():
		return ""
	case v.Kind() == reflect.Map:
		m := make(map[string]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			m[fmt.Sprint(it.Key().Interface())] = "***"
		}
		return m
	default:
		return "***"
	}
}

// summarize turns v into maps, lists and plain values a logger prints
// well: structs by their YAML keys, durations as text.
func summarize(v reflect.Value) any {
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return summarize(v.Elem())
	case reflect.Struct:
		m := map[string]any{}
		summarizeStruct(v, m)
		return m
	case reflect.Map:
		m := make(map[string]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			m[fmt.Sprint(it.Key().Interface())] = summarize(it.Value())
		}
		return m
	case reflect.Slice, reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = summarize(v.Index(i))
		}
		return out
	default:
		return v.Interface()
	}
}
