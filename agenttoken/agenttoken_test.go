package agenttoken

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const secret = "0123456789abcdef0123456789abcdef"

var now = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

func signer(t testing.TB) *Signer {
	t.Helper()
	s, err := NewSigner(secret, 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewSigner(t *testing.T) {
	if _, err := NewSigner(strings.Repeat("x", MinSecretLen-1), 0); err == nil || !strings.Contains(err.Error(), "openssl rand") {
		t.Errorf("a short secret: %v", err)
	}
	s := signer(t)
	if s.MaxTTL() != DefaultMaxTTL {
		t.Errorf("default max TTL %s", s.MaxTTL())
	}
}

func TestTokenRoundTrip(t *testing.T) {
	s := signer(t)
	tok, err := s.Token("alice", now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "dra2.YWxpY2U.") {
		t.Errorf("token %q", tok)
	}
	c, err := s.CheckToken(tok, now.Add(time.Minute))
	if err != nil || c.Identity != "alice" || !c.Issued.Equal(now) || !c.Expires.Equal(now.Add(time.Hour)) || c.ID != "" {
		t.Fatalf("claims %+v, %v", c, err)
	}
	// A token is not a link, and a link is not a token.
	if _, err := s.CheckLink(tok, now); !errors.Is(err, ErrMalformed) {
		t.Errorf("token as a link: %v", err)
	}
	link, err := s.Link("alice", now, now.Add(15*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckToken(link, now); !errors.Is(err, ErrMalformed) {
		t.Errorf("link as a token: %v", err)
	}
	l1, err := s.CheckLink(link, now)
	if err != nil || l1.Identity != "alice" || len(l1.ID) != 64 {
		t.Fatalf("link claims %+v, %v", l1, err)
	}
	other, _ := s.Link("alice", now, now.Add(15*time.Minute))
	l2, _ := s.CheckLink(other, now)
	if other == link || l2.ID == l1.ID {
		t.Error("two links minted alike are the same link (no nonce)")
	}
}

func TestCheckRefuses(t *testing.T) {
	s := signer(t)
	tok, _ := s.Token("alice", now, now.Add(time.Hour))
	foreign, _ := NewSigner(strings.Repeat("y", 40), 0)
	foreignTok, _ := foreign.Token("alice", now, now.Add(time.Hour))
	parts := strings.Split(tok, ".")
	for _, tc := range []struct {
		name string
		tok  string
		at   time.Time
		want error
	}{
		{"expired", tok, now.Add(time.Hour), ErrExpired},
		{"another secret", foreignTok, now, ErrSignature},
		{"altered identity", strings.Join([]string{parts[0], "Ym9i", parts[2], parts[3], parts[4]}, "."), now, ErrSignature},
		{"longer expiry", strings.Join([]string{parts[0], parts[1], parts[2], parts[3] + "0", parts[4]}, "."), now, ErrSignature},
		{"leading zero", strings.Join([]string{parts[0], parts[1], "0" + parts[2], parts[3], parts[4]}, "."), now, ErrMalformed},
		{"old format", "dra1.YWxpY2U.4102444800.abc", now, ErrOldFormat},
		{"empty", "", now, ErrMalformed},
		{"too long", strings.Repeat("a", 3000), now, ErrMalformed},
		{"issued in the future", forge(s, "alice", now.Add(time.Hour), now.Add(2*time.Hour)), now, ErrFuture},
		// The cap holds however it was minted: valid until 9999, or issued
		// far ahead with a short lifetime that still ends too late.
		{"year 9999", forge(s, "alice", now, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)), now, ErrTooLong},
		{"8 days", forge(s, "alice", now, now.Add(8*24*time.Hour)), now, ErrTooLong},
		{"expiry before issue", forge(s, "alice", now, now.Add(-time.Second)), now.Add(-2 * time.Second), ErrTooLong},
		{"spaces in the identity", forge(s, "al ice", now, now.Add(time.Hour)), now, ErrMalformed},
	} {
		if _, err := s.CheckToken(tc.tok, tc.at); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if !Refused(tc.want) {
			t.Errorf("%s: Refused(%v) is false", tc.name, tc.want)
		}
	}
	// A token of exactly the maximum lifetime is fine, and a clock a little
	// behind the minter's too.
	if _, err := s.CheckToken(forge(s, "alice", now, now.Add(DefaultMaxTTL)), now); err != nil {
		t.Errorf("maximum lifetime: %v", err)
	}
	if _, err := s.CheckToken(forge(s, "alice", now.Add(time.Minute), now.Add(time.Hour)), now); err != nil {
		t.Errorf("issued a minute ahead: %v", err)
	}
}

func TestMintRefuses(t *testing.T) {
	s := signer(t)
	for name, fn := range map[string]func() (string, error){
		"too long":   func() (string, error) { return s.Token("alice", now, now.Add(8*24*time.Hour)) },
		"no time":    func() (string, error) { return s.Token("alice", now, now) },
		"empty":      func() (string, error) { return s.Token("", now, now.Add(time.Hour)) },
		"control":    func() (string, error) { return s.Link("al\nice", now, now.Add(time.Hour)) },
		"link 8days": func() (string, error) { return s.Link("alice", now, now.Add(8*24*time.Hour)) },
	} {
		if tok, err := fn(); err == nil {
			t.Errorf("%s: minted %q", name, tok)
		}
	}
}

// forge signs fields without the minting checks.
func forge(s *Signer, identity string, issued, expires time.Time) string {
	fields := []string{tokenPrefix, b64(identity), unix(issued), unix(expires)}
	return strings.Join(append(fields, s.mac(fields)), ".")
}

// FuzzCheck: checking any string never panics, and whatever passes names
// an identity CheckIdentity accepts and a lifetime within the cap.
func FuzzCheck(f *testing.F) {
	s := signer(f)
	tok, _ := s.Token("alice", now, now.Add(time.Hour))
	link, _ := s.Link("bob", now, now.Add(time.Minute))
	for _, seed := range []string{tok, link, "", "dra2....", "drl1.....", "dra1.a.b.c", tok + ".x", strings.ReplaceAll(tok, ".", "..")} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, check := range []func(string, time.Time) (Claims, error){s.CheckToken, s.CheckLink} {
			c, err := check(in, now)
			if err != nil {
				if !Refused(err) {
					t.Fatalf("%q: an error that is not a refusal: %v", in, err)
				}
				continue
			}
			if CheckIdentity(c.Identity) != nil || c.Expires.Sub(c.Issued) > s.MaxTTL() || !now.Before(c.Expires) {
				t.Fatalf("%q passed with claims %+v", in, c)
			}
		}
	})
}
