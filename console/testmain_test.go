package console_test

import (
	"os"
	"testing"

	"dialhook/internal/testredis"
)

// TestMain stops every redis-server the tests started.
func TestMain(m *testing.M) { os.Exit(testredis.Main(m)) }
