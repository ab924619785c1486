package store

import (
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strings"
	"testing"
)

// keyCommand matches a redis.call/pcall whose first argument is not a
// KEYS entry or a local bound to one (ev, q, dedup, cool, oldKey, akey,
// wkey, gkey, idx, nq): a key built inside the script, which Redis Cluster
// cannot route.
var keyCommand = regexp.MustCompile(`redis\.p?call\('(?:GET|SET|HSET|HGET|HMGET|HINCRBY|ZADD|ZREM|ZSCORE|XADD|XACK|XDEL|XLEN|EXISTS|EXPIRE|PEXPIRE|PTTL|SADD|SMEMBERS|DEL)', ([^,)]+)`)

var keyVars = map[string]bool{"ev": true, "q": true, "dedup": true, "cool": true, "oldKey": true, "akey": true,
	"wkey": true, "gkey": true, "idx": true, "key": true, "queue": true, "from": true, "to": true, "dedupKey": true, "nq": true}

// Every script receives every key it touches in KEYS: no key name is built
// inside Lua (no string concatenation at all), and every key command's key
// is KEYS[n] or a local bound to one.
func TestScriptsDeclareTheirKeys(t *testing.T) {
	srcs := []string{acceptLua, dupLua, beginLua, busyLua, finishLua, enrichedLua, promoteLua, redialLua,
		releaseLua, probeLua, callLua, promoteJobsLua, capLua, keepLua}
	if len(srcs) != len(scripts) {
		t.Fatalf("%d script sources checked, %d scripts loaded: add the new script's source here", len(srcs), len(scripts))
	}
	for _, src := range append(srcs, luaLib) {
		if strings.Contains(src, "..") {
			t.Errorf("a script concatenates strings (a key name built inside Lua?):\n%s", src)
		}
		for _, m := range keyCommand.FindAllStringSubmatch(src, -1) {
			arg := strings.TrimSpace(m[1])
			if !strings.HasPrefix(arg, "KEYS[") && !keyVars[arg] {
				t.Errorf("%s: key %q is not from KEYS", m[0], arg)
			}
		}
	}
}

// Every hash field constant (fDoc, fState, …) is in luaLib's F, so that no
// script ever has to spell a field name: a field added to the const block
// but not to F fails here.
func TestLuaKnowsEveryField(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "redis_scripts.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		vs, ok := node.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || len(vs.Values) != 1 || !regexp.MustCompile(`^f[A-Z]`).MatchString(vs.Names[0].Name) {
			return true
		}
		lit, ok := vs.Values[0].(*ast.BasicLit)
		if !ok {
			return true
		}
		n++
		v := strings.Trim(lit.Value, `"`)
		if !strings.Contains(luaLib, v+`="`+v+`"`) {
			t.Errorf("field %s (%q) is missing from luaLib's F", vs.Names[0].Name, v)
		}
		return true
	})
	if n < 10 {
		t.Fatalf("found %d field constants in redis_scripts.go; the test no longer reads them", n)
	}
}
