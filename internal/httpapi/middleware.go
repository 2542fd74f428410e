package httpapi

import (
	"net/http"
	"strings"
)

// requireAdmin lets a request through only with the admin token, as
// "Authorization: Bearer <token>". An ingest token is refused with 403
// saying where it works.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, bearer := bearerToken(r)
		if bearer && s.checkAdmin(token) {
			next.ServeHTTP(w, r)
			return
		}
		if bearer && s.isIngestToken(r, token) {
			s.writeError(w, r, &Error{Status: http.StatusForbidden, Code: "forbidden",
				Message: "the token is an ingest token, valid only on intake endpoints such as POST /api/v1/events: this API needs the admin token"})
			return
		}
		msg := "this API needs the admin token: send the header Authorization: Bearer <token> (tocsin serve printed it on first start)"
		switch {
		case r.Header.Get("Authorization") != "":
			msg = "the token is not valid for this API"
		case r.URL.Query().Has("token"):
			msg = "this API takes the admin token only in the header Authorization: Bearer <token>; ?token= works on intake endpoints alone"
		}
		s.unauthorized(w, r, msg)
	})
}

// requireIntake guards an intake endpoint: it lets a request through with
// the admin token or an ingest token, sent as "Authorization: Bearer
// <token>" or, by senders that cannot set headers, as ?token=<token>. The
// header wins when both are there.
func (s *Server) requireIntake(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, bearer := bearerToken(r)
		if !bearer {
			token = r.URL.Query().Get("token")
		}
		if token != "" && s.checkAdmin(token) {
			next.ServeHTTP(w, r)
			return
		}
		if token != "" {
			ok, err := s.tokens.has(r.Context(), HashToken(token))
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			if ok {
				next.ServeHTTP(w, r)
				return
			}
		}
		msg := "this endpoint needs an ingest token or the admin token: send the header Authorization: Bearer <token>, or add ?token=<token> to the URL if the sender cannot set headers"
		if token != "" || r.Header.Get("Authorization") != "" {
			msg = "the token is neither an ingest token nor the admin token: send a valid one in the header Authorization: Bearer <token>, or as ?token=<token> in the URL"
		}
		s.unauthorized(w, r, msg)
	})
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header, and whether the request has one.
func bearerToken(r *http.Request) (string, bool) {
	// The scheme name is case-insensitive (RFC 7235).
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

// isIngestToken reports whether token is an ingest token. A failed read
// of the tokens reads as no: the answer is a refusal either way.
func (s *Server) isIngestToken(r *http.Request, token string) bool {
	ok, err := s.tokens.has(r.Context(), HashToken(token))
	return err == nil && ok
}

func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="tocsin"`)
	s.writeError(w, r, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: msg})
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
