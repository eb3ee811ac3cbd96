package jsonapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
)

// Route is one method and pattern of a mux and its handler.
type Route struct {
	Method  string
	Pattern string
	Handler http.Handler
}

// NewMux returns a mux serving routes, with, per pattern, a fallback that
// answers 405 with an Allow header (GET routes also allow HEAD), and a
// catch-all 404. Handlers should call SetRoute with their pattern. It never
// answers a redirect: a path http.ServeMux would clean (a ".", ".." or
// empty segment, also percent-encoded) is refused with 400 naming the
// wildcard it stands for (see canonical).
func NewMux(routes []Route, ew ErrorWriter, opts ...MuxOption) http.Handler {
	var cfg muxConfig
	for _, o := range opts {
		o(&cfg)
	}
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	var paths []string
	for _, rt := range routes {
		mux.Handle(rt.Method+" "+rt.Pattern, rt.Handler)
		if _, ok := allowed[rt.Pattern]; !ok {
			paths = append(paths, rt.Pattern)
		}
		allowed[rt.Pattern] = append(allowed[rt.Pattern], rt.Method)
		if rt.Method == http.MethodGet {
			allowed[rt.Pattern] = append(allowed[rt.Pattern], http.MethodHead)
		}
	}
	for _, p := range paths {
		allow := strings.Join(allowed[p], ", ")
		pattern := p
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			SetRoute(r, pattern)
			w.Header().Set("Allow", allow)
			ew.Write(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed,
				fmt.Sprintf("method %s not allowed on %s; allowed: %s", r.Method, pattern, allow))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		ew.Write(w, http.StatusNotFound, CodeNotFound, fmt.Sprintf("no such route: %s %s", r.Method, r.URL.Path))
	})
	return newCanonical(mux, routes, cfg.names, ew)
}

// reqInfo carries the matched route pattern back up to Instrument.
type reqInfo struct{ route string }

type reqInfoKey struct{}

// SetRoute records the route pattern r matched, for metrics and logs. It
// does nothing outside Instrument.
func SetRoute(r *http.Request, pattern string) {
	if ri, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
		ri.route = pattern
	}
}

// RouteOf returns the pattern recorded by SetRoute, or "unmatched".
func RouteOf(r *http.Request) string {
	if ri, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok && ri.route != "" {
		return ri.route
	}
	return "unmatched"
}

// StatusRecorder is a ResponseWriter that remembers the status of the
// answer (0 until a header or body is written; a body without a header is
// 200).
type StatusRecorder struct {
	http.ResponseWriter
	Status int
}

// WriteHeader implements http.ResponseWriter.
func (w *StatusRecorder) WriteHeader(code int) {
	if w.Status == 0 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *StatusRecorder) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *StatusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Instrument reports every request to obs by route pattern, method and
// status, and turns a panic into a logged 500 internal error (re-raising
// http.ErrAbortHandler).
func Instrument(next http.Handler, obs Observer, log *slog.Logger, ew ErrorWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{}
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, ri))
		sw := &StatusRecorder{ResponseWriter: w}
		obs.Begin()
		defer func() {
			obs.End()
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic serving request", "method", r.Method, "route", RouteOf(r), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if sw.Status == 0 {
					ew.Write(sw, http.StatusInternalServerError, CodeInternal, "internal error")
				}
			}
			status := sw.Status
			if status == 0 {
				status = http.StatusOK
			}
			obs.Observe(RouteOf(r), r.Method, status, time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}

// Handler is an API's root handler: the routes on NewMux (405 with Allow,
// catch-all 404), wrapped by Instrument.
func Handler(routes []Route, obs Observer, log *slog.Logger, ew ErrorWriter, opts ...MuxOption) http.Handler {
	return Instrument(NewMux(routes, ew, opts...), obs, log, ew)
}
