package store_test

import (
	"os"
	"testing"

	"dialhook/internal/testredis"
)

func TestMain(m *testing.M) { os.Exit(testredis.Main(m)) }
