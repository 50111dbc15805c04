package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// serveEnv is a production-like serve environment (signatures checked).
func serveEnv(extra map[string]string) func(string) string {
	env := map[string]string{"TWILIO_AUTH_TOKEN": "tok", "DIDROUTER_PUBLIC_URL": "https://calls.example.com",
		"DIDROUTER_API_KEY": "admin"}
	for k, v := range extra {
		env[k] = v
	}
	return envOf(env)
}

// An admin secret that is easy to guess keeps serve from starting, with an
// error naming DIDROUTER_API_SECRET (issue 16, finding 10); in local-trial
// mode (signatures off, the README's quick start) it is a warning.
func TestParseConfigAPISecretStrength(t *testing.T) {
	for _, weak := range []string{"changeme", "x9", "0123456789abcde", "aaaaaaaaaaaaaaaaaaaa", "abababababababababab",
		"changemechangeme", "passwordpassword", "1212121212121212"} {
		_, err := parseConfig("serve", nil, serveEnv(map[string]string{"DIDROUTER_API_SECRET": weak}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "DIDROUTER_API_SECRET") || strings.Contains(err.Error(), weak) {
			t.Errorf("secret %q: %v; want an error naming the variable (and not the secret)", weak, err)
		}
	}
	for _, good := range []string{"k3J9x2Qm7Lp4Zt8w", "3f9a1c07e2b84d65", "a-long-random-secret", testAPISecret} {
		if _, err := parseConfig("serve", nil, serveEnv(map[string]string{"DIDROUTER_API_SECRET": good}), io.Discard); err != nil {
			t.Errorf("secret %q: %v", good, err)
		}
	}
	// The README's quick start.
	c, err := parseConfig("serve", nil, envOf(map[string]string{"DIDROUTER_INSECURE_SKIP_SIGNATURE": "true",
		"DIDROUTER_API_KEY": "admin", "DIDROUTER_API_SECRET": "changeme"}), io.Discard)
	if err != nil {
		t.Fatalf("quick start: %v", err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "DIDROUTER_API_SECRET") {
		t.Errorf("quick start warnings %q", c.Warnings)
	}
	// The API off: nothing to check.
	if c, err := parseConfig("serve", nil, envOf(map[string]string{"DIDROUTER_INSECURE_SKIP_SIGNATURE": "true"}), io.Discard); err != nil || len(c.Warnings) != 0 {
		t.Errorf("API off: %v %q", err, c.Warnings)
	}
}

func TestParseConfigAllowedOrigins(t *testing.T) {
	c, err := parseConfig("serve", nil, serveEnv(map[string]string{"DIDROUTER_API_SECRET": testAPISecret,
		"DIDROUTER_ALLOWED_ORIGINS": " https://Admin.Example.com:443 ,http://localhost:3000,, "}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://admin.example.com", "http://localhost:3000"}; !slices.Equal(c.AllowedOrigins, want) {
		t.Errorf("origins %q, want %q", c.AllowedOrigins, want)
	}
	for _, bad := range []string{"null", "https://admin.example.com/app", "admin.example.com", "*"} {
		_, err := parseConfig("serve", nil, serveEnv(map[string]string{"DIDROUTER_API_SECRET": testAPISecret,
			"DIDROUTER_ALLOWED_ORIGINS": "https://ok.example.com," + bad}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "DIDROUTER_ALLOWED_ORIGINS") {
			t.Errorf("%q: %v, want an error naming DIDROUTER_ALLOWED_ORIGINS", bad, err)
		}
	}
}

// The running server: url fields come from the public URL whatever Host
// a client sends, and state-changing requests from foreign pages are
// refused (issue 16, findings 10 and 12).
func TestServeAPIBoundary(t *testing.T) {
	cfg := testConfig(t)
	cfg.AllowedOrigins = []string{"https://admin.example.test"}
	base, _ := runServer(t, cfg)
	waitReady(t, base)
	do := func(method, path string, form url.Values, header map[string]string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(cfg.APIKey, cfg.APISecret)
		for k, v := range header {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	status, list := do(http.MethodGet, "/v1/Workspaces", nil, map[string]string{"Host": "evil.example", "X-Forwarded-Proto": "http"})
	if status != http.StatusOK {
		t.Fatalf("workspaces: %d %v", status, list)
	}
	ws := list["workspaces"].([]any)[0].(map[string]any)
	if u, _ := ws["url"].(string); !strings.HasPrefix(u, cfg.PublicURL+"/v1/Workspaces/WS") {
		t.Errorf("workspace url %q, want it under %s", u, cfg.PublicURL)
	}
	workers := "/v1/Workspaces/" + ws["sid"].(string) + "/Workers"
	if status, out := do(http.MethodPost, workers, url.Values{"FriendlyName": {"m"}}, map[string]string{"Origin": "https://evil.example"}); status != http.StatusForbidden {
		t.Errorf("foreign origin: %d %v", status, out)
	}
	for i, origin := range []string{cfg.PublicURL, "https://admin.example.test", ""} {
		h := map[string]string{}
		if origin != "" {
			h["Origin"] = origin
		}
		if status, out := do(http.MethodPost, workers, url.Values{"FriendlyName": {"w" + string(rune('0'+i))}}, h); status != http.StatusCreated {
			t.Errorf("Origin %q: %d %v", origin, status, out)
		}
	}
}

// The README's quick start still starts, and says loudly that its secret is weak.
func TestServeQuickStartWarnsOfWeakSecret(t *testing.T) {
	cfg, err := parseConfig("serve", []string{"-addr", "127.0.0.1:0"}, envOf(map[string]string{
		"DIDROUTER_INSECURE_SKIP_SIGNATURE": "true", "DIDROUTER_API_KEY": "admin", "DIDROUTER_API_SECRET": "changeme",
		"DIDROUTER_DATA": filepath.Join(t.TempDir(), "didrouter.db"),
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	base, logs := runServer(t, cfg)
	waitReady(t, base)
	if !strings.Contains(logs.String(), "DIDROUTER_API_SECRET is too weak") {
		t.Errorf("no warning about the weak secret:\n%s", logs)
	}
}
