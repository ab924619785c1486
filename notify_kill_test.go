package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"dialhook/internal/testredis"
)

// The binary is SIGKILLed while a notification is being delivered (the
// endpoint holds the request): after a restart on the same Redis the
// notification is delivered, with the same webhook-id, and nothing is lost.
func TestNotificationSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds dialhook and runs it as a subprocess")
	}
	t.Parallel()
	redisSrv := testredis.Start(t, "")
	bin := filepath.Join(t.TempDir(), "dialhook")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	rcv := newReceiver(t, notifySecret)
	var hold sync.Once
	held := make(chan string, 1)
	release := make(chan struct{})
	inner := rcv.srv.Config.Handler
	rcv.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first := false
		hold.Do(func() { first = true })
		if first { // the first attempt hangs until the test lets go
			held <- r.Header.Get("webhook-id")
			<-release
			return
		}
		inner.ServeHTTP(w, r)
	})
	defer close(release)
	cfg := filepath.Join(t.TempDir(), "dialhook.yaml")
	conf := "defaults: {callerid: \"59829001234\", context: agentes, outqueue: \"Ventas->\"}\nphone: {default_region: UY}\n" +
		"sources: {generic: {kind: generic}}\nnotify:\n  - {name: flow, url: " + rcv.srv.URL + "/hook, secret: " + notifySecret + ", types: [event.placed]}\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	base := "http://" + addr
	env := []string{"PATH=" + os.Getenv("PATH"), "DIALHOOK_ADDR=" + addr, "DIALHOOK_REDIS_URL=redis://" + redisSrv.Addr + "/0",
		"DIALHOOK_CLAIM_IDLE=2s", "UCONTACT_TIMEOUT=1s", "DIALHOOK_SHUTDOWN_TIMEOUT=1s"}
	logs := &syncBuffer{}
	proc, err := startProcArgs(t, bin, []string{"--config", cfg}, env, logs, base)
	if err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	placed := postJSON(t, base+"/webhooks/generic?wait=5s", `{"event_id":"kill-1","agent":"1001","phone":"1001","destination":"59899123456"}`)
	if placed["status"] != "placed" {
		t.Fatalf("webhook = %v", placed)
	}
	var firstID string
	select {
	case firstID = <-held:
	case <-time.After(10 * time.Second):
		t.Fatalf("no delivery attempt\n%s", logs.String())
	}
	proc.kill()
	if _, err := startProcArgs(t, bin, []string{"--config", cfg}, env, logs, base); err != nil {
		t.Fatalf("restart: %v\n%s", err, logs.String())
	}
	msg := rcv.waitFor(t, "event.placed", 20*time.Second)
	if msg.id != firstID || msg.data["id"] != placed["event_id"] {
		t.Errorf("after the restart: id %s (first attempt %s), data %v", msg.id, firstID, msg.data["id"])
	}
}

// startProcArgs is startProc with command-line arguments.
func startProcArgs(t *testing.T, bin string, args, env []string, logs *syncBuffer, base string) (*dialhookProc, error) {
	wrapper := filepath.Join(t.TempDir(), "dialhook-args")
	script := "#!/bin/sh\nexec " + bin
	for _, a := range args {
		script += " '" + a + "'"
	}
	if err := os.WriteFile(wrapper, []byte(script+"\n"), 0o700); err != nil {
		return nil, err
	}
	return startProc(t, wrapper, env, logs, base)
}
