package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
)

// pageNames are the templates under assets/templates, each rendered inside
// layout.html.
var pageNames = []string{"agent", "agent_signin", "agent_welcome", "admin", "admin_signin", "message"}

type pages struct {
	t map[string]*template.Template
}

func loadPages() (*pages, error) {
	p := &pages{t: map[string]*template.Template{}}
	for _, name := range slices.Concat(pageNames, adminPageNames) {
		files := []string{"assets/templates/layout.html", "assets/templates/" + name + ".html"}
		if strings.HasPrefix(name, "admin") {
			files = append(files, adminPartials)
		}
		t, err := template.New(name).Funcs(templateFuncs).ParseFS(assets, files...)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		p.t[name] = t
	}
	return p, nil
}

// templateFuncs are the templates' helpers.
var templateFuncs = template.FuncMap{
	"seconds": waitText,
	"add1":    func(i int) int { return i + 1 },
	// The desktop's dial pad, in the order of a phone's keys.
	"dialpadKeys": func() []string { return []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"} },
	// callable: a recent call's number the phone can dial back (E.164).
	"callable": func(number string) bool { return strings.HasPrefix(number, "+") },
	// minsec writes a message's length as a phone shows it: 1:05.
	"minsec": func(secs int) string { return fmt.Sprintf("%d:%02d", secs/60, secs%60) },
}

// view is the data of every page.
type view struct {
	Title   string
	Assets  string // prefix of the page's CSS and scripts
	CSRF    string // the session's token, for its forms
	SignOut string // the sign-out form's action; "" = no sign-out button
	Heading string
	Message string // a sentence for the reader (what happened, what to do)
	Error   string // what went wrong with their last request

	Agent   *agentState // the desktop
	Scripts []string    // extra scripts of the desktop (the browser phone)
	// PhoneOff says why the desktop has no phone (settings missing).
	PhoneOff string

	Link    string // the sign-in link's token, posted back by its button
	Name    string // who the link signs in as
	Key     string // the admin key typed, shown again after a wrong secret
	Console bool   // the admin console is on

	Admin any // the admin console's page data (admin_*.go)
}

// render writes page name with status.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	var buf bytes.Buffer
	if err := h.pages.t[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		h.logError(r, "render "+name, err)
		http.Error(w, "Internal server error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// message renders a page that only says something.
func (h *Handler) message(w http.ResponseWriter, r *http.Request, status int, assetsPrefix, heading, msg string) {
	h.render(w, r, status, "message", view{Title: heading, Assets: assetsPrefix, Heading: heading, Message: msg})
}

// failed answers an unexpected error: logged, and a page that says so
// without the details.
func (h *Handler) failed(w http.ResponseWriter, r *http.Request, assetsPrefix, what string, err error) {
	h.logError(r, what, err)
	h.message(w, r, http.StatusInternalServerError, assetsPrefix, "Something went wrong",
		"didrouter could not "+what+". Try again in a moment; if it keeps happening, tell your administrator.")
}
