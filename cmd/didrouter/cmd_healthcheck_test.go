package main

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"strings"
	"testing"
)

// healthcheck asks the address in the environment it is given; a flag
// overrides it.
func TestHealthcheck(t *testing.T) {
	base, _ := runServer(t, testConfig(t))
	waitReady(t, base)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	check := func(env map[string]string, args ...string) (int, string) {
		var out, errs bytes.Buffer
		code := healthcheckCommand{getenv: envOf(env)}.run(context.Background(), args, &out, &errs)
		return code, out.String() + errs.String()
	}
	if code, out := check(map[string]string{"DIDROUTER_ADDR": u.Host}); code != 0 || !strings.Contains(out, u.Host+"/healthz: 200") {
		t.Errorf("DIDROUTER_ADDR=%s: exit %d, %s", u.Host, code, out)
	}
	if code, out := check(map[string]string{"DIDROUTER_ADDR": u.Host}, "-path", "/readyz"); code != 0 {
		t.Errorf("/readyz: exit %d, %s", code, out)
	}

	// Nothing listens on a port just closed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if code, out := check(map[string]string{"DIDROUTER_ADDR": closed}); code != 1 {
		t.Errorf("nothing listening at %s: exit %d, %s", closed, code, out)
	}
	if code, out := check(map[string]string{"DIDROUTER_ADDR": closed}, "-addr", u.Host); code != 0 {
		t.Errorf("-addr %s over the environment: exit %d, %s", u.Host, code, out)
	}
	if code, out := check(map[string]string{"DIDROUTER_ADDR": "8080"}); code != 2 || !strings.Contains(out, "bad address") {
		t.Errorf("bad address: exit %d, %s", code, out)
	}
}
