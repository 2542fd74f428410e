package httpapi

import (
	"net/http"
	"strings"
)

// requireAdmin lets a request through only with the admin token, as
// "Authorization: Bearer <token>".
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		// The scheme name is case-insensitive (RFC 7235).
		scheme, token, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || !s.checkAdmin(strings.TrimSpace(token)) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tocsin"`)
			msg := "this API needs the admin token: send the header Authorization: Bearer <token> (tocsin serve printed it on first start)"
			if auth != "" {
				msg = "the token is not valid for this API"
			}
			s.writeError(w, r, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: msg})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody caps the request body; reading past the cap fails with
// *http.MaxBytesError, which writeError turns into 413.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.opts.MaxBodyBytes {
			s.writeError(w, r, &http.MaxBytesError{Limit: s.opts.MaxBodyBytes})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a handler panic into a logged 500 instead of a
// dropped connection.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.opts.Logger.ErrorContext(r.Context(), "handler panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				s.writeError(w, r, &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error: the server log has the details"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status a handler wrote, for metrics.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// instrument counts requests and their durations by route pattern.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.opts.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		s.metrics.observe(route, rec.status, s.opts.Now().Sub(start))
	})
}
