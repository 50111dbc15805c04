package main

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

const testSCIMToken = "scim0a1b2c3d4e5f6a7b8c9d0e1f2a3b"

// The SSO settings: a weak SCIM token is refused naming the variable (and
// not the token), OIDC settings are checked together, and the console's
// password form can only be turned off when OIDC can sign admins in.
func TestParseConfigSSO(t *testing.T) {
	for _, weak := range []string{"changeme", "aaaaaaaaaaaaaaaaaaaa", "scimscimscimscim"} {
		_, err := parseConfig("serve", nil, serveEnv(map[string]string{"DIDROUTER_API_SECRET": testAPISecret, "DIDROUTER_SCIM_TOKEN": weak}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "DIDROUTER_SCIM_TOKEN") || strings.Contains(err.Error(), weak) {
			t.Errorf("token %q: %v", weak, err)
		}
	}
	_, err := parseConfig("serve", nil, serveEnv(map[string]string{"DIDROUTER_API_SECRET": testAPISecret, "DIDROUTER_SCIM_TOKEN": testAPISecret}), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "DIDROUTER_SCIM_TOKEN must differ") {
		t.Errorf("token = API secret: %v", err)
	}
	for env, want := range map[string]string{
		"DIDROUTER_OIDC_ISSUER=http://idp.example.com":  "DIDROUTER_OIDC_ISSUER must be",
		"DIDROUTER_OIDC_ISSUER=https://idp.example.com": "DIDROUTER_OIDC_CLIENT_ID is required",
		"DIDROUTER_OIDC_CLIENT_ID=abc":                  "need DIDROUTER_OIDC_ISSUER",
		"DIDROUTER_ADMIN_PASSWORD_LOGIN=off":            "DIDROUTER_ADMIN_PASSWORD_LOGIN=off needs",
		"DIDROUTER_ADMIN_PASSWORD_LOGIN=maybe":          "DIDROUTER_ADMIN_PASSWORD_LOGIN must be on or off",
		"DIDROUTER_OIDC_SCOPES=email":                   "",
		"DIDROUTER_OIDC_ISSUER=https://idp.example.com,DIDROUTER_OIDC_SCOPES=email profile,DIDROUTER_OIDC_CLIENT_ID=x": "must include openid",
	} {
		m := map[string]string{"DIDROUTER_API_SECRET": testAPISecret}
		for _, kv := range strings.Split(env, ",") {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		_, err := parseConfig("serve", nil, serveEnv(m), io.Discard)
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", env, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want %q", env, err, want)
		}
	}
	c, err := parseConfig("serve", nil, serveEnv(map[string]string{"DIDROUTER_API_SECRET": testAPISecret,
		"DIDROUTER_OIDC_ISSUER": "https://idp.example.com/", "DIDROUTER_OIDC_CLIENT_ID": "cid", "DIDROUTER_OIDC_ADMIN_GROUP": "didrouter-admins",
		"DIDROUTER_ADMIN_PASSWORD_LOGIN": "off", "DIDROUTER_OIDC_SCOPES": "openid,email phone", "DIDROUTER_OIDC_PHONE_CLAIM": "off"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.OIDC.Issuer != "https://idp.example.com" || c.AdminPasswordLogin || strings.Join(c.OIDC.Scopes, " ") != "openid email phone" ||
		c.OIDC.PhoneClaim != "" || c.OIDC.AgentClaim != "email" {
		t.Errorf("parsed %+v", c.OIDC)
	}
}

// The whole server serves SCIM with the token, and refuses without it.
func TestServeSCIM(t *testing.T) {
	t.Parallel()
	cfg, err := parseConfig("serve", []string{"-addr", "127.0.0.1:0"}, envOf(map[string]string{
		"DIDROUTER_INSECURE_SKIP_SIGNATURE": "true", "DIDROUTER_SCIM_TOKEN": testSCIMToken,
		"DIDROUTER_DATA": filepath.Join(t.TempDir(), "didrouter.db"),
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := runServer(t, cfg)
	waitReady(t, base)
	get := func(auth string) int {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/scim/v2/Users", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get("Bearer " + testSCIMToken); s != 200 {
		t.Errorf("with the token: %d", s)
	}
	if s := get(""); s != 401 {
		t.Errorf("without a token: %d", s)
	}
}
