// Package numberstest is a local stand-in for the part of Twilio's REST
// API that package numbers uses: AvailablePhoneNumbers (Local, Mobile,
// TollFree) and IncomingPhoneNumbers (list with paging, create, update,
// fetch), answering Twilio's documented JSON, checking HTTP Basic auth and
// recording every request. Tests point twilio-go at it through
// numbers.Options.BaseURL (or DIDROUTER_TWILIO_BASE_URL).
package numberstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Request is a request the fake received.
type Request struct {
	Method   string
	Path     string
	Form     url.Values // the query of a GET, the form body of a POST
	User     string     // HTTP Basic user
	Password string
}

// Available is a number for sale.
type Available struct {
	PhoneNumber  string
	FriendlyName string // "" derives one
	Locality     string
	Region       string
	NoVoice      bool // cannot take calls
}

// Number is a number the account owns.
type Number struct {
	SID                  string
	PhoneNumber          string
	FriendlyName         string
	VoiceURL             string
	VoiceMethod          string
	StatusCallback       string
	StatusCallbackMethod string
	VoiceApplicationSID  string
	TrunkSID             string
}

// Fault is an error answer the fake gives instead of doing a request.
type Fault struct {
	Status  int    // HTTP status
	Code    int    // Twilio error code; 0 with Raw set sends Raw instead of JSON
	Message string //
	Raw     string // a non-JSON body (a proxy's error page)
	// Apply does the request first, then answers the error: a purchase
	// that went through although the answer says otherwise.
	Apply bool
}

// Fake is the stand-in server.
type Fake struct {
	AccountSID string
	User       string // expected Basic auth user (account SID or API key)
	Password   string

	srv *httptest.Server

	mu          sync.Mutex
	maxPageSize int
	fault       func(Request) *Fault
	available   map[string][]Available // "US/Local"
	incoming    []Number               // in creation order
	requests    []Request
	seq         int
}

// New starts a fake for the account; it stops when the test ends.
func New(t testing.TB, accountSID, user, password string) *Fake {
	f := &Fake{AccountSID: accountSID, User: user, Password: password,
		maxPageSize: 1000, available: map[string][]Available{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// URL returns the fake's base URL (scheme and host).
func (f *Fake) URL() string { return f.srv.URL }

// SetMaxPageSize caps the page size the fake answers with, to make lists
// span several pages.
func (f *Fake) SetMaxPageSize(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.maxPageSize = n
}

// SetFault installs fn, asked before every request (after auth); a
// non-nil Fault is answered instead. It is called with the fake's lock
// not held.
func (f *Fake) SetFault(fn func(Request) *Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault = fn
}

// AddAvailable puts numbers up for sale; kind is Local, Mobile or TollFree
// (the resource's name).
func (f *Fake) AddAvailable(country, kind string, nums ...Available) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := strings.ToUpper(country) + "/" + kind
	f.available[k] = append(f.available[k], nums...)
}

// AddIncoming gives the account numbers; an empty SID gets one.
func (f *Fake) AddIncoming(nums ...Number) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range nums {
		if n.SID == "" {
			n.SID = f.newSID()
		}
		f.incoming = append(f.incoming, n)
	}
}

// Incoming returns the account's numbers in creation order.
func (f *Fake) Incoming() []Number {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.incoming)
}

// Requests returns the requests received so far.
func (f *Fake) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// Purchases returns the purchase requests (POST IncomingPhoneNumbers.json).
func (f *Fake) Purchases() []Request {
	var out []Request
	for _, r := range f.Requests() {
		if IsPurchase(r) {
			out = append(out, r)
		}
	}
	return out
}

// IsPurchase reports whether r buys a number.
func IsPurchase(r Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/IncomingPhoneNumbers.json")
}

func (f *Fake) newSID() string {
	f.seq++
	return fmt.Sprintf("PN%032x", f.seq)
}

const apiPrefix = "/2010-04-01/Accounts/"

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "bad form: "+err.Error())
		return
	}
	user, pass, _ := r.BasicAuth()
	form := r.URL.Query()
	if r.Method == http.MethodPost {
		form = r.PostForm
	}
	req := Request{Method: r.Method, Path: r.URL.Path, Form: form, User: user, Password: pass}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	fault := f.fault
	f.mu.Unlock()

	if user != f.User || pass != f.Password {
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, apiPrefix+f.AccountSID+"/")
	if !ok {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	var ft *Fault
	if fault != nil {
		ft = fault(req)
	}
	if ft != nil && !ft.Apply {
		writeFault(w, ft)
		return
	}
	status, body := f.route(r.Method, rest, form)
	if ft != nil {
		writeFault(w, ft)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func writeFault(w http.ResponseWriter, ft *Fault) {
	if ft.Code == 0 && ft.Raw != "" {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(ft.Status)
		_, _ = w.Write([]byte(ft.Raw))
		return
	}
	writeError(w, ft.Status, ft.Code, ft.Message)
}

// twilioError is Twilio's error document.
type twilioError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(twilioError{Code: code, Message: msg,
		MoreInfo: fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), Status: status})
}

func errorBody(status, code int, msg string) (int, any) {
	return status, twilioError{Code: code, Message: msg, MoreInfo: fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), Status: status}
}

// route does the request with the account path stripped.
func (f *Fake) route(method, rest string, form url.Values) (int, any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case method == http.MethodGet && strings.HasPrefix(rest, "AvailablePhoneNumbers/"):
		parts := strings.Split(strings.TrimSuffix(strings.TrimPrefix(rest, "AvailablePhoneNumbers/"), ".json"), "/")
		if len(parts) != 2 || !slices.Contains([]string{"Local", "Mobile", "TollFree"}, parts[1]) {
			return errorBody(http.StatusNotFound, 20404, "The requested resource was not found")
		}
		return f.searchAvailable(rest, parts[0], parts[1], form)
	case rest == "IncomingPhoneNumbers.json" && method == http.MethodGet:
		return f.listIncoming(rest, form)
	case rest == "IncomingPhoneNumbers.json" && method == http.MethodPost:
		return f.buy(form)
	case strings.HasPrefix(rest, "IncomingPhoneNumbers/PN") && strings.HasSuffix(rest, ".json"):
		sid := strings.TrimSuffix(strings.TrimPrefix(rest, "IncomingPhoneNumbers/"), ".json")
		i := slices.IndexFunc(f.incoming, func(n Number) bool { return n.SID == sid })
		if i < 0 {
			return errorBody(http.StatusNotFound, 20404, "The requested resource /2010-04-01/Accounts/"+f.AccountSID+"/"+rest+" was not found")
		}
		switch method {
		case http.MethodGet:
			return http.StatusOK, f.resource(f.incoming[i])
		case http.MethodPost:
			f.update(&f.incoming[i], form)
			return http.StatusOK, f.resource(f.incoming[i])
		}
	}
	return errorBody(http.StatusNotFound, 20404, "The requested resource was not found")
}

// page cuts a list of n items by PageSize and Page.
func (f *Fake) page(form url.Values) (size, index int, err error) {
	size = 50
	if s := form.Get("PageSize"); s != "" {
		if size, err = strconv.Atoi(s); err != nil || size < 1 || size > 1000 {
			return 0, 0, fmt.Errorf("PageSize %q", s)
		}
	}
	size = min(size, f.maxPageSize)
	if s := form.Get("Page"); s != "" {
		if index, err = strconv.Atoi(s); err != nil || index < 0 {
			return 0, 0, fmt.Errorf("Page %q", s)
		}
	}
	return size, index, nil
}

// pageURI is the URI of page index of path with filters kept.
func pageURI(path string, form url.Values, size, index int, token string) string {
	q := url.Values{}
	for k, v := range form {
		if k != "Page" && k != "PageSize" && k != "PageToken" {
			q[k] = v
		}
	}
	q.Set("PageSize", strconv.Itoa(size))
	q.Set("Page", strconv.Itoa(index))
	if token != "" {
		q.Set("PageToken", token)
	}
	return path + "?" + q.Encode()
}

func (f *Fake) searchAvailable(rest, country, kind string, form url.Values) (int, any) {
	size, index, err := f.page(form)
	if err != nil {
		return errorBody(http.StatusBadRequest, 20001, "Invalid "+err.Error())
	}
	var match []Available
	for _, n := range f.available[strings.ToUpper(country)+"/"+kind] {
		if form.Get("VoiceEnabled") == "true" && n.NoVoice {
			continue
		}
		if ac := form.Get("AreaCode"); ac != "" && !strings.HasPrefix(n.PhoneNumber, "+1"+ac) {
			continue
		}
		if c := form.Get("Contains"); c != "" && !containsPattern(n.PhoneNumber, c) {
			continue
		}
		match = append(match, n)
	}
	path := apiPrefix + f.AccountSID + "/" + rest
	start := min(index*size, len(match))
	end := min(start+size, len(match))
	items := make([]map[string]any, 0, end-start)
	for _, n := range match[start:end] {
		fn := n.FriendlyName
		if fn == "" {
			fn = friendly(n.PhoneNumber)
		}
		items = append(items, map[string]any{
			"friendly_name": fn, "phone_number": n.PhoneNumber, "lata": "712", "locality": n.Locality,
			"rate_center": strings.ToUpper(n.Locality), "latitude": "30.267200", "longitude": "-97.743100",
			"region": n.Region, "postal_code": "78701", "iso_country": strings.ToUpper(country),
			"address_requirements": "none", "beta": false,
			"capabilities": map[string]bool{"voice": !n.NoVoice, "SMS": true, "MMS": true},
		})
	}
	var next *string
	if end < len(match) {
		s := pageURI(path, form, size, index+1, fmt.Sprintf("PA%d", index+1))
		next = &s
	}
	var prev *string
	if index > 0 {
		s := pageURI(path, form, size, index-1, "")
		prev = &s
	}
	return http.StatusOK, pageBody("available_phone_numbers", items, path, form, size, index, start, end, next, prev)
}

// containsPattern matches Twilio's Contains: digits, with * for any digit,
// anywhere in the number.
func containsPattern(number, pattern string) bool {
	digits := strings.TrimPrefix(number, "+")
	p := strings.TrimPrefix(pattern, "+")
	for i := 0; i+len(p) <= len(digits); i++ {
		ok := true
		for j := 0; j < len(p); j++ {
			if p[j] != '*' && p[j] != digits[i+j] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (f *Fake) listIncoming(rest string, form url.Values) (int, any) {
	size, index, err := f.page(form)
	if err != nil {
		return errorBody(http.StatusBadRequest, 20001, "Invalid "+err.Error())
	}
	var match []Number
	for _, n := range f.incoming {
		if p := form.Get("PhoneNumber"); p != "" && !containsPattern(n.PhoneNumber, p) {
			continue
		}
		match = append(match, n)
	}
	// PageToken is "PA" and the last SID of the previous page: the next
	// page starts after it, as Twilio's keyset paging does.
	start := 0
	if tok := form.Get("PageToken"); tok != "" {
		after := strings.TrimPrefix(tok, "PA")
		start = len(match)
		for i, n := range match {
			if n.SID == after {
				start = i + 1
				break
			}
		}
	} else {
		start = min(index*size, len(match))
	}
	end := min(start+size, len(match))
	items := make([]any, 0, end-start)
	for _, n := range match[start:end] {
		items = append(items, f.resource(n))
	}
	path := apiPrefix + f.AccountSID + "/" + rest
	var next *string
	if end < len(match) {
		s := pageURI(path, form, size, index+1, "PA"+match[end-1].SID)
		next = &s
	}
	return http.StatusOK, pageBody("incoming_phone_numbers", items, path, form, size, index, start, end, next, nil)
}

// pageBody is one page of a Twilio list: the items under key, items
// start to end of the whole list, and the links to the other pages.
func pageBody(key string, items any, path string, form url.Values, size, index, start, end int, next, prev *string) map[string]any {
	return map[string]any{
		key:                 items,
		"end":               max(end-1, 0),
		"first_page_uri":    pageURI(path, form, size, 0, ""),
		"next_page_uri":     next,
		"page":              index,
		"page_size":         size,
		"previous_page_uri": prev,
		"start":             start,
		"uri":               pageURI(path, form, size, index, form.Get("PageToken")),
	}
}

func (f *Fake) buy(form url.Values) (int, any) {
	phone := form.Get("PhoneNumber")
	if phone == "" {
		return errorBody(http.StatusBadRequest, 21450, "PhoneNumber or AreaCode is required")
	}
	for k, list := range f.available {
		i := slices.IndexFunc(list, func(a Available) bool { return a.PhoneNumber == phone })
		if i < 0 {
			continue
		}
		a := list[i]
		f.available[k] = slices.Delete(slices.Clone(list), i, i+1)
		n := Number{SID: f.newSID(), PhoneNumber: phone, FriendlyName: a.FriendlyName,
			VoiceMethod: "POST", StatusCallbackMethod: "POST"}
		if n.FriendlyName == "" {
			n.FriendlyName = friendly(phone)
		}
		f.update(&n, form)
		f.incoming = append(f.incoming, n)
		return http.StatusCreated, f.resource(n)
	}
	return errorBody(http.StatusBadRequest, 21422, "PhoneNumber requested is not available")
}

// update applies the form fields present, as Twilio's update does.
func (f *Fake) update(n *Number, form url.Values) {
	set := func(key string, dst *string) {
		if _, ok := form[key]; ok {
			*dst = form.Get(key)
		}
	}
	set("FriendlyName", &n.FriendlyName)
	set("VoiceUrl", &n.VoiceURL)
	set("VoiceMethod", &n.VoiceMethod)
	set("StatusCallback", &n.StatusCallback)
	set("StatusCallbackMethod", &n.StatusCallbackMethod)
	set("VoiceApplicationSid", &n.VoiceApplicationSID)
	set("TrunkSid", &n.TrunkSID)
	// Setting one of application and trunk deletes the other.
	if form.Get("VoiceApplicationSid") != "" {
		n.TrunkSID = ""
	}
	if form.Get("TrunkSid") != "" {
		n.VoiceApplicationSID = ""
	}
}

// fixedDate is every resource's date: the fake keeps no clock.
var fixedDate = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC).Format(time.RFC1123Z)

// resource renders n as Twilio's IncomingPhoneNumber JSON.
func (f *Fake) resource(n Number) map[string]any {
	nullable := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	uri := apiPrefix + f.AccountSID + "/IncomingPhoneNumbers/" + n.SID + ".json"
	return map[string]any{
		"account_sid": f.AccountSID, "address_requirements": "none", "address_sid": nil,
		"api_version": "2010-04-01", "beta": false,
		"capabilities": map[string]bool{"voice": true, "sms": true, "mms": true, "fax": false},
		"date_created": fixedDate, "date_updated": fixedDate,
		"emergency_status": "Active", "emergency_address_sid": nil, "emergency_address_status": "unregistered",
		"friendly_name": n.FriendlyName, "identity_sid": nil, "origin": "twilio",
		"phone_number": n.PhoneNumber, "sid": n.SID,
		"sms_application_sid": "", "sms_fallback_method": "POST", "sms_fallback_url": "", "sms_method": "POST", "sms_url": "",
		"status_callback": n.StatusCallback, "status_callback_method": n.StatusCallbackMethod,
		"trunk_sid": nullable(n.TrunkSID), "uri": uri,
		"voice_application_sid": n.VoiceApplicationSID, "voice_caller_id_lookup": false,
		"voice_fallback_method": "POST", "voice_fallback_url": nil,
		"voice_method": n.VoiceMethod, "voice_url": n.VoiceURL,
		"voice_receive_mode": "voice", "bundle_sid": nil, "status": "in-use", "type": "local",
		"subresource_uris": map[string]string{
			"assigned_add_ons": strings.TrimSuffix(uri, ".json") + "/AssignedAddOns.json",
		},
	}
}

// friendly formats a NANP number as Twilio's friendly_name does:
// "(512) 555-0101".
func friendly(e164 string) string {
	d := strings.TrimPrefix(e164, "+1")
	if len(d) != 10 || !strings.HasPrefix(e164, "+1") {
		return e164
	}
	return "(" + d[:3] + ") " + d[3:6] + "-" + d[6:]
}
