package routing

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// tokKind is a lexical token's kind.
type tokKind uint8

const (
	tEOF tokKind = iota
	tPath
	tString
	tNumber
	tTrue
	tFalse
	tLParen
	tRParen
	tLBrack
	tRBrack
	tComma
	tEq
	tNe
	tLt
	tLe
	tGt
	tGe
	tAnd
	tOr
	tIn
	tNot
	tHas
	tContains
)

// token is one lexeme; off is its byte offset in the source.
type token struct {
	kind tokKind
	off  int
	text string // source text
	str  string // decoded string literal
	num  float64
	path []seg // decoded key path
}

// seg is one step of a key path: a map key, or an array index when idx >= 0.
type seg struct {
	key string
	idx int
}

// keyword returns the kind of a keyword, matched case-insensitively.
func keyword(word string) (tokKind, bool) {
	if len(word) > len("contains") {
		return 0, false
	}
	switch strings.ToLower(word) {
	case "and":
		return tAnd, true
	case "or":
		return tOr, true
	case "in":
		return tIn, true
	case "not":
		return tNot, true
	case "has":
		return tHas, true
	case "contains":
		return tContains, true
	case "true":
		return tTrue, true
	case "false":
		return tFalse, true
	}
	return 0, false
}

// lexer turns an expression into tokens.
type lexer struct {
	src string
	off int
}

// SyntaxError is an expression that cannot be compiled. Col is the 1-based
// column (in characters) of the problem.
type SyntaxError struct {
	Col int
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("column %d: %s", e.Col, e.Msg) }

// errAt builds a SyntaxError at byte offset off of src.
func errAt(src string, off int, format string, args ...any) *SyntaxError {
	if off > len(src) {
		off = len(src)
	}
	return &SyntaxError{Col: utf8.RuneCountInString(src[:off]) + 1, Msg: fmt.Sprintf(format, args...)}
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// maxIndex bounds array indexes in key paths.
const maxIndex = 1_000_000

// next returns the next token.
func (l *lexer) next() (token, error) {
	src := l.src
	for l.off < len(src) && (src[l.off] == ' ' || src[l.off] == '\t' || src[l.off] == '\n' || src[l.off] == '\r') {
		l.off++
	}
	start := l.off
	if start >= len(src) {
		return token{kind: tEOF, off: start}, nil
	}
	c := src[start]
	two := ""
	if start+1 < len(src) {
		two = src[start : start+2]
	}
	simple := func(k tokKind, n int) (token, error) {
		l.off += n
		return token{kind: k, off: start, text: src[start:l.off]}, nil
	}
	switch {
	case c == '(':
		return simple(tLParen, 1)
	case c == ')':
		return simple(tRParen, 1)
	case c == '[':
		return simple(tLBrack, 1)
	case c == ']':
		return simple(tRBrack, 1)
	case c == ',':
		return simple(tComma, 1)
	case two == "==":
		return simple(tEq, 2)
	case two == "!=":
		return simple(tNe, 2)
	case two == "<=":
		return simple(tLe, 2)
	case two == ">=":
		return simple(tGe, 2)
	case two == "&&":
		return simple(tAnd, 2)
	case two == "||":
		return simple(tOr, 2)
	case c == '=':
		return simple(tEq, 1)
	case c == '<':
		return simple(tLt, 1)
	case c == '>':
		return simple(tGt, 1)
	case c == '"' || c == '\'':
		return l.lexString()
	case isDigit(c) || (c == '-' && start+1 < len(src) && isDigit(src[start+1])):
		return l.lexNumber()
	case isIdentStart(c):
		return l.lexWord()
	case c == '-':
		return token{}, errAt(src, start, "unexpected '-': hyphens are not supported in expressions")
	case c == '!':
		return token{}, errAt(src, start, "unexpected '!': use != to compare, or NOT IN")
	case c == '&' || c == '|':
		return token{}, errAt(src, start, "unexpected %q: use %s%s", c, string(c), string(c))
	}
	r, _ := utf8.DecodeRuneInString(src[start:])
	return token{}, errAt(src, start, "unexpected character %q", r)
}

func (l *lexer) lexString() (token, error) {
	src := l.src
	start := l.off
	quote := src[start]
	var b strings.Builder
	plain := true // no escapes: the literal can share the source string
	i := start + 1
	for i < len(src) {
		c := src[i]
		switch {
		case c == quote:
			l.off = i + 1
			s := src[start+1 : i]
			if !plain {
				s = b.String()
			}
			return token{kind: tString, off: start, text: src[start:l.off], str: s}, nil
		case c == '\\':
			if i+1 >= len(src) {
				return token{}, errAt(src, start, "unterminated string")
			}
			e := src[i+1]
			if e != '\\' && e != '\'' && e != '"' {
				return token{}, errAt(src, i, "unknown escape \\%c in string (only \\\\, \\' and \\\" are allowed)", e)
			}
			if plain {
				plain = false
				b.WriteString(src[start+1 : i])
			}
			b.WriteByte(e)
			i += 2
		default:
			if !plain {
				b.WriteByte(c)
			}
			i++
		}
	}
	return token{}, errAt(src, start, "unterminated string")
}

func (l *lexer) lexNumber() (token, error) {
	src := l.src
	start := l.off
	i := start
	if src[i] == '-' {
		i++
	}
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	if i < len(src) && src[i] == '.' {
		i++
		if i >= len(src) || !isDigit(src[i]) {
			return token{}, errAt(src, i, "expected a digit after the decimal point")
		}
		for i < len(src) && isDigit(src[i]) {
			i++
		}
	}
	if i < len(src) && (isIdentChar(src[i]) || src[i] == '.') {
		return token{}, errAt(src, start, "malformed number %q", src[start:l.scanWordEnd(i)])
	}
	text := src[start:i]
	f, err := parseFloat(text)
	if err != nil {
		return token{}, errAt(src, start, "number %s is out of range", text)
	}
	l.off = i
	return token{kind: tNumber, off: start, text: text, num: f}, nil
}

// scanWordEnd returns the end of the run of identifier characters and dots at i.
func (l *lexer) scanWordEnd(i int) int {
	for i < len(l.src) && (isIdentChar(l.src[i]) || l.src[i] == '.') {
		i++
	}
	return i
}

// lexWord reads a keyword or a key path: ident ( '.' ident | '[' digits ']' )*.
func (l *lexer) lexWord() (token, error) {
	src := l.src
	start := l.off
	i := start
	for i < len(src) && isIdentChar(src[i]) {
		i++
	}
	first := src[start:i]
	if k, ok := keyword(first); ok && (i >= len(src) || src[i] != '.') {
		l.off = i
		return token{kind: k, off: start, text: first}, nil
	}
	path := []seg{{key: first, idx: -1}}
	for i < len(src) {
		switch src[i] {
		case '.':
			j := i + 1
			if j >= len(src) || !isIdentStart(src[j]) {
				return token{}, errAt(src, j, "expected a key name after '.'")
			}
			k := j
			for k < len(src) && isIdentChar(src[k]) {
				k++
			}
			path = append(path, seg{key: src[j:k], idx: -1})
			i = k
			continue
		case '[':
			j := i + 1
			k := j
			for k < len(src) && isDigit(src[k]) {
				k++
			}
			if k == j || k >= len(src) || src[k] != ']' {
				return token{}, errAt(src, i, "expected an array index such as [0]")
			}
			n := 0
			for _, d := range src[j:k] {
				n = n*10 + int(d-'0')
				if n > maxIndex {
					return token{}, errAt(src, j, "array index is larger than %d", maxIndex)
				}
			}
			path = append(path, seg{idx: n})
			i = k + 1
			continue
		case '-':
			return token{}, errAt(src, i, "unexpected '-': hyphens are not supported in key names")
		}
		break
	}
	l.off = i
	return token{kind: tPath, off: start, text: src[start:i], path: path}, nil
}
