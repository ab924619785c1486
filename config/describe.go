package config

// Setting describes one setting for a help text: its YAML key, its
// environment variable (when it has one), its default and its meaning.
type Setting struct {
	Key, Env, Default, Doc string
}

// Settings lists every declared setting, in declaration order.
func Settings() []Setting {
	var c Config
	all := settingsOf(&c)
	out := make([]Setting, 0, len(all))
	for _, s := range all {
		out = append(out, Setting{Key: s.Key, Env: s.Env, Default: s.Default, Doc: s.Doc})
	}
	return out
}
