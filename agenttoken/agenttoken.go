// Package agenttoken mints and checks the credentials an agent's browser
// holds instead of the admin secret: agent tokens (a bearer token for
// GET /agent/number) and sign-in links (one click starts an agent desktop
// session). Both are signed with DIDROUTER_AGENT_TOKEN_SECRET, a key of
// their own, so that a service minting them holds no admin power; both name
// a softphone identity (the worker whose contact_uri is client:<identity>),
// carry when they were issued (revocation refuses older ones) and expire
// within a maximum lifetime.
//
// Formats (base64url without padding, times in Unix seconds):
//
//	agent token   dra2.<b64(identity)>.<issued>.<expires>.<b64(mac)>
//	              mac = HMAC-SHA256(secret, "dra2\n" + identity + "\n" + issued + "\n" + expires)
//	sign-in link  drl1.<b64(identity)>.<issued>.<expires>.<b64(nonce)>.<b64(mac)>
//	              mac = HMAC-SHA256(secret, "drl1\n" + identity + "\n" + issued + "\n" + expires + "\n" + b64(nonce))
//
// The prefix is part of the signed message, so a token cannot be used as a
// link or the other way round.
package agenttoken

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

const (
	tokenPrefix = "dra2"
	linkPrefix  = "drl1"
	// oldTokenPrefix marks the tokens signed with the admin secret before
	// agent tokens had a key of their own; they are refused.
	oldTokenPrefix = "dra1"

	// MinSecretLen is the shortest DIDROUTER_AGENT_TOKEN_SECRET accepted:
	// 32 characters, such as `openssl rand -hex 32` prints 64 of.
	MinSecretLen = 32
	// DefaultMaxTTL is the longest lifetime of a token or link accepted
	// unless DIDROUTER_AGENT_TOKEN_MAX_TTL says otherwise.
	DefaultMaxTTL = 7 * 24 * time.Hour
	// DefaultLinkTTL is how long a sign-in link printed by
	// `didrouter dids token --link` is valid.
	DefaultLinkTTL = 15 * time.Minute

	// maxSkew is how far in the future an issue time may be (the minting
	// machine's clock may run ahead of the server's).
	maxSkew = 5 * time.Minute
	// maxIdentity bounds an identity (Twilio allows 121 characters).
	maxIdentity = 256
	// maxLen bounds a token before it is parsed.
	maxLen   = 2048
	nonceLen = 16
)

// Errors of Check*. Callers answer all of them as "not signed in" and may
// word the reason for the person holding the credential.
var (
	ErrMalformed = errors.New("not an agent token or sign-in link")
	ErrOldFormat = errors.New("an agent token of the old format (dra1, signed with the admin secret): mint a new one")
	ErrSignature = errors.New("the signature does not match (altered, or signed with another DIDROUTER_AGENT_TOKEN_SECRET)")
	ErrExpired   = errors.New("expired")
	ErrTooLong   = errors.New("its lifetime is longer than DIDROUTER_AGENT_TOKEN_MAX_TTL allows")
	ErrFuture    = errors.New("issued in the future (check the clocks)")
)

// Claims is what a valid token or link says.
type Claims struct {
	Identity string    // softphone identity, without "client:"
	Issued   time.Time // second precision
	Expires  time.Time // second precision
	// ID names a sign-in link for single use ("" for tokens): the hex
	// SHA-256 of the whole link token.
	ID string
}

// Signer mints and checks tokens and links with one secret.
type Signer struct {
	key    []byte
	maxTTL time.Duration
}

// NewSigner returns a signer for secret; maxTTL bounds the lifetime of what
// it accepts (0 = DefaultMaxTTL).
func NewSigner(secret string, maxTTL time.Duration) (*Signer, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("DIDROUTER_AGENT_TOKEN_SECRET must be at least %d characters (%d given); make one with `openssl rand -hex 32`",
			MinSecretLen, len(secret))
	}
	if maxTTL < 0 {
		return nil, errors.New("the maximum lifetime of agent tokens must not be negative")
	}
	if maxTTL == 0 {
		maxTTL = DefaultMaxTTL
	}
	return &Signer{key: []byte(secret), maxTTL: maxTTL}, nil
}

// MaxTTL is the longest lifetime the signer accepts.
func (s *Signer) MaxTTL() time.Duration { return s.maxTTL }

// CheckIdentity refuses an identity that cannot be a softphone's.
func CheckIdentity(identity string) error {
	switch {
	case identity == "":
		return errors.New("the identity is empty")
	case len(identity) > maxIdentity:
		return fmt.Errorf("the identity is longer than %d bytes", maxIdentity)
	case !utf8.ValidString(identity):
		return errors.New("the identity is not valid UTF-8")
	case strings.IndexFunc(identity, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0:
		return errors.New("the identity has spaces or control characters")
	}
	return nil
}

// Token mints an agent token for identity, valid from issued to expires.
func (s *Signer) Token(identity string, issued, expires time.Time) (string, error) {
	if err := s.checkMint(identity, issued, expires); err != nil {
		return "", err
	}
	fields := []string{tokenPrefix, b64(identity), unix(issued), unix(expires)}
	return strings.Join(append(fields, s.mac(fields)), "."), nil
}

// Link mints a sign-in link token (the t parameter of /agent/signin).
func (s *Signer) Link(identity string, issued, expires time.Time) (string, error) {
	if err := s.checkMint(identity, issued, expires); err != nil {
		return "", err
	}
	nonce := make([]byte, nonceLen)
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails on supported platforms
	fields := []string{linkPrefix, b64(identity), unix(issued), unix(expires), base64.RawURLEncoding.EncodeToString(nonce)}
	return strings.Join(append(fields, s.mac(fields)), "."), nil
}

func (s *Signer) checkMint(identity string, issued, expires time.Time) error {
	if err := CheckIdentity(identity); err != nil {
		return err
	}
	if !expires.After(issued) {
		return errors.New("the expiry must be after the issue time")
	}
	if expires.Sub(issued) > s.maxTTL {
		return fmt.Errorf("a lifetime of %s is longer than the maximum, %s (DIDROUTER_AGENT_TOKEN_MAX_TTL)", expires.Sub(issued), s.maxTTL)
	}
	return nil
}

// CheckToken checks an agent token at now.
func (s *Signer) CheckToken(tok string, now time.Time) (Claims, error) {
	if strings.HasPrefix(tok, oldTokenPrefix+".") {
		return Claims{}, ErrOldFormat
	}
	return s.check(tok, tokenPrefix, 5, now)
}

// CheckLink checks a sign-in link token at now.
func (s *Signer) CheckLink(tok string, now time.Time) (Claims, error) {
	c, err := s.check(tok, linkPrefix, 6, now)
	if err != nil {
		return Claims{}, err
	}
	sum := sha256.Sum256([]byte(tok))
	c.ID = fmt.Sprintf("%x", sum)
	return c, nil
}

func (s *Signer) check(tok, prefix string, n int, now time.Time) (Claims, error) {
	if len(tok) > maxLen {
		return Claims{}, ErrMalformed
	}
	parts := strings.Split(tok, ".")
	if len(parts) != n || parts[0] != prefix {
		return Claims{}, ErrMalformed
	}
	id, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || CheckIdentity(string(id)) != nil {
		return Claims{}, ErrMalformed
	}
	issued, ok1 := parseUnix(parts[2])
	expires, ok2 := parseUnix(parts[3])
	if !ok1 || !ok2 {
		return Claims{}, ErrMalformed
	}
	if n == 6 {
		if nonce, err := base64.RawURLEncoding.DecodeString(parts[4]); err != nil || len(nonce) != nonceLen {
			return Claims{}, ErrMalformed
		}
	}
	mac, err := base64.RawURLEncoding.DecodeString(parts[n-1])
	if err != nil {
		return Claims{}, ErrMalformed
	}
	want, _ := base64.RawURLEncoding.DecodeString(s.mac(parts[:n-1]))
	// The signature is checked before anything else is said about the
	// token, so that nothing is learnt from a forged one.
	if !hmac.Equal(mac, want) {
		return Claims{}, ErrSignature
	}
	switch {
	case !now.Before(expires):
		return Claims{}, ErrExpired
	case issued.After(now.Add(maxSkew)):
		return Claims{}, ErrFuture
	case !expires.After(issued) || expires.Sub(issued) > s.maxTTL || expires.Sub(now) > s.maxTTL:
		// The cap holds however the fields were chosen: a token expiring in
		// the year 9999 is refused even if it claims to be issued then.
		return Claims{}, ErrTooLong
	}
	return Claims{Identity: string(id), Issued: issued, Expires: expires}, nil
}

func (s *Signer) mac(fields []string) string {
	m := hmac.New(sha256.New, s.key)
	for i, f := range fields {
		if i == 1 {
			// The identity is signed as itself, not as its base64 form.
			id, _ := base64.RawURLEncoding.DecodeString(f)
			f = string(id)
		}
		if i > 0 {
			m.Write([]byte("\n"))
		}
		m.Write([]byte(f))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// parseUnix reads Unix seconds written as plain digits (no sign, no
// leading zeros: one time has one spelling, so one token has one signature).
func parseUnix(s string) (time.Time, bool) {
	if s == "" || len(s) > 12 || (len(s) > 1 && s[0] == '0') {
		return time.Time{}, false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return time.Time{}, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0).UTC(), true
}
