package store

import (
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
	for _, src := range []string{luaLib, acceptLua, dupLua, beginLua, busyLua, finishLua, enrichedLua, promoteLua, redialLua,
		releaseLua, probeLua, callLua, promoteJobsLua} {
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
