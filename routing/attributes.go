package routing

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Attributes are a parsed JSON object: nested objects are map[string]any,
// arrays []any, numbers float64, strings, booleans and nil, as encoding/json
// decodes them. The index and the evaluator never modify them; callers must
// not modify a map after handing it over.
type Attributes map[string]any

// Limits on attribute documents. They keep a hostile document from costing
// more than a bounded amount of memory or stack.
const (
	MaxAttributesBytes = 1 << 20 // 1 MiB
	MaxNestingDepth    = 64      // objects and arrays inside each other
)

// AttributesJSON returns an attribute document as Twilio shows it. An unset
// document is the empty object, so clients can always parse it.
func AttributesJSON(s string) string {
	if s == "" {
		return "{}"
	}
	return s
}

// ParseAttributes parses a JSON object. Empty input and "null" give an empty
// set of attributes; anything other than an object is an error.
func ParseAttributes(data []byte) (Attributes, error) {
	return parseAttributes(data, nil)
}

// AttributeParser is ParseAttributes for many documents in a row (loading
// a fleet of workers): the documents it returns share the strings of their
// keys. It is not safe for concurrent use; its zero value is ready.
type AttributeParser struct {
	keys map[string]string
}

// maxInternedKeys bounds an AttributeParser's table of keys.
const maxInternedKeys = 4096

// Parse is ParseAttributes.
func (p *AttributeParser) Parse(data []byte) (Attributes, error) {
	if p.keys == nil {
		p.keys = make(map[string]string)
	}
	return parseAttributes(data, p.keys)
}

func parseAttributes(data []byte, keys map[string]string) (Attributes, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return Attributes{}, nil
	}
	if len(trimmed) > MaxAttributesBytes {
		return nil, fmt.Errorf("attributes: %d bytes is more than the %d allowed", len(trimmed), MaxAttributesBytes)
	}
	if trimmed[0] != '{' {
		return nil, fmt.Errorf("attributes must be a JSON object, not %s", jsonKindOf(trimmed[0]))
	}
	if m, ok := parseFlat(trimmed, keys); ok {
		return m, nil
	}
	if err := checkNesting(trimmed, MaxNestingDepth); err != nil {
		return nil, fmt.Errorf("attributes: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(trimmed, &m); err != nil {
		return nil, fmt.Errorf("attributes are not valid JSON: %w", err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return Attributes(m), nil
}

// jsonKindOf names the kind of JSON value that starts with c, for errors.
func jsonKindOf(c byte) string {
	switch {
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	default:
		return fmt.Sprintf("text starting with %q", c)
	}
}

// checkNesting rejects documents nested deeper than max before they are
// decoded. It only counts brackets outside strings; the decoder validates
// the rest.
func checkNesting(data []byte, max int) error {
	depth := 0
	inString, escaped := false, false
	for i, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > max {
				return fmt.Errorf("nested more than %d levels deep (at byte %d)", max, i)
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}
