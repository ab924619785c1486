package store_test

import (
	"os"
	"testing"

	"dialhook/internal/testredis"
)

func TestMain(m *testing.M) {
	testredis.Silence()
	os.Exit(m.Run())
}
