package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/problem"
	"github.com/tocsinhq/tocsin/internal/store"
)

// handlerFunc is an API handler that returns its error instead of writing
// it, so errors become responses in one place (writeError).
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// Error is an API error with its status. Handlers return it for failures
// that are not a store or validation error.
type Error struct {
	Status  int
	Code    string
	Message string
	Field   string
}

func (e *Error) Error() string { return e.Message }

// errorBody is the contract's error shape, plus every problem when there
// are several.
type errorBody struct {
	Error  problemJSON   `json:"error"`
	Errors []problemJSON `json:"errors,omitempty"`
}

type problemJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// listProblems makes the first problem the error and keeps the list only
// when there are several.
func (b *errorBody) listProblems() {
	b.Error = b.Errors[0]
	if len(b.Errors) > 1 {
		b.Error.Message = fmt.Sprintf("%s (and %d more problems, listed in errors)", b.Error.Message, len(b.Errors)-1)
	} else {
		b.Errors = nil
	}
}

func (s *Server) serveJSON(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// writeError maps an error to a status and the JSON error body. It is the
// only place that does.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		apiErr   *Error
		problems *problem.List
		invalid  *alert.ValidationError
		tooLarge *http.MaxBytesError
		body     errorBody
		status   int
	)
	switch {
	case errors.As(err, &apiErr):
		status = apiErr.Status
		body.Error = problemJSON{Code: apiErr.Code, Message: apiErr.Message, Field: apiErr.Field}
	case errors.As(err, &tooLarge):
		status = http.StatusRequestEntityTooLarge
		body.Error = problemJSON{Code: "body-too-large", Message: fmt.Sprintf("the request body is larger than %d bytes", tooLarge.Limit)}
	case errors.As(err, &problems):
		status = http.StatusBadRequest
		for _, p := range problems.Items {
			body.Errors = append(body.Errors, problemJSON{Code: p.Code, Message: p.Message, Field: p.Field})
		}
		body.listProblems()
	case errors.As(err, &invalid):
		status = http.StatusBadRequest
		for _, p := range invalid.Problems {
			body.Errors = append(body.Errors, problemJSON{Code: "invalid-alert", Message: p.Message, Field: p.Field})
		}
		body.listProblems()
	case errors.Is(err, store.ErrInvalidCursor):
		status = http.StatusBadRequest
		body.Error = problemJSON{Code: "invalid-cursor", Message: err.Error(), Field: "cursor"}
	case errors.Is(err, store.ErrNotFound):
		status = http.StatusNotFound
		body.Error = problemJSON{Code: "not-found", Message: err.Error()}
	case errors.Is(err, store.ErrConflict):
		status = http.StatusConflict
		body.Error = problemJSON{Code: "conflict", Message: err.Error()}
	default:
		status = http.StatusInternalServerError
		body.Error = problemJSON{Code: "internal", Message: "internal error: the server log has the details"}
		s.opts.Logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if strings.HasPrefix(r.URL.Path, "/api/v2/") {
		// Alertmanager's clients (amtool, and any other generated with
		// go-swagger from its API) decode a JSON error body into a
		// string, fail on an object and print that failure instead of the
		// message; a text body they print as it is. So Alertmanager's
		// routes send the same JSON as text.
		writeBody(w, status, "text/plain; charset=utf-8", body)
		return
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeBody(w, status, "application/json; charset=utf-8", v)
}

// writeBody writes v as JSON, labelled with contentType.
func writeBody(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// readBody reads the (size-capped) request body.
func readBody(r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, err
		}
		return nil, &Error{Status: http.StatusBadRequest, Code: "unreadable-body", Message: "could not read the request body: " + err.Error()}
	}
	return data, nil
}
