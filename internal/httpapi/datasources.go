package httpapi

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/tocsinhq/tocsin/internal/datasource"
	"github.com/tocsinhq/tocsin/internal/problem"
	"github.com/tocsinhq/tocsin/internal/store"
)

func (s *Server) listDatasources(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	items, next, err := s.opts.Store.ListDatasources(r.Context(), store.DatasourceFilter{Query: strings.TrimSpace(q.Get("q")), Limit: limit, Cursor: q.Get("cursor")})
	if err != nil {
		return err
	}
	if items == nil {
		items = []*datasource.Source{}
	}
	writeJSON(w, http.StatusOK, listResponse[*datasource.Source]{Items: items, Next: next})
	return nil
}

// decodeDatasource reads and validates a data source; old is the stored
// one a PUT replaces (its secrets kept where the body sends them masked).
func decodeDatasource(r *http.Request, old *datasource.Source) (*datasource.Source, error) {
	data, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var d datasource.Source
	if err := problem.DecodeStrict(data, &d, ""); err != nil {
		return nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	// A masked secret keeps the stored one (on the same host only);
	// on create there is none to keep.
	if err := d.KeepSecrets(old); err != nil {
		return nil, err
	}
	return &d, nil
}

func (s *Server) createDatasource(w http.ResponseWriter, r *http.Request) error {
	d, err := decodeDatasource(r, nil)
	if err != nil {
		return err
	}
	if err := s.opts.Store.CreateDatasource(r.Context(), d, s.opts.Now()); err != nil {
		return err
	}
	s.opts.Logger.InfoContext(r.Context(), "data source created", "id", d.ID, "name", d.Name)
	w.Header().Set("Location", "/api/v1/datasources/"+d.ID)
	writeJSON(w, http.StatusCreated, d)
	return nil
}

func (s *Server) lookupDatasource(r *http.Request) (*datasource.Source, error) {
	return lookup(r.Context(), r.PathValue("id"), "data source", s.opts.Store.GetDatasource, s.opts.Store.GetDatasourceByName)
}

func (s *Server) getDatasource(w http.ResponseWriter, r *http.Request) error {
	d, err := s.lookupDatasource(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) updateDatasource(w http.ResponseWriter, r *http.Request) error {
	old, err := s.lookupDatasource(r)
	if err != nil {
		return err
	}
	d, err := decodeDatasource(r, old)
	if err != nil {
		return err
	}
	d.ID = old.ID
	if err := s.opts.Store.UpdateDatasource(r.Context(), d, s.opts.Now()); err != nil {
		return err
	}
	s.rulesChanged()
	s.opts.Logger.InfoContext(r.Context(), "data source updated", "id", d.ID, "name", d.Name)
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) deleteDatasource(w http.ResponseWriter, r *http.Request) error {
	d, err := s.lookupDatasource(r)
	if err != nil {
		return err
	}
	if err := s.opts.Store.DeleteDatasource(r.Context(), d.ID); err != nil {
		return err
	}
	s.opts.Logger.InfoContext(r.Context(), "data source deleted", "id", d.ID, "name", d.Name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// testDatasource asks the data source to answer a query.
func (s *Server) testDatasource(w http.ResponseWriter, r *http.Request) error {
	d, err := s.lookupDatasource(r)
	if err != nil {
		return err
	}
	if err := datasource.NewClient(d, s.opts.DatasourceClient).Check(r.Context()); err != nil {
		writeJSON(w, http.StatusOK, testAnswer{OK: false, Message: err.Error()})
		return nil
	}
	writeJSON(w, http.StatusOK, testAnswer{OK: true, Message: fmt.Sprintf("%s answered a query", d.Name)})
	return nil
}

// testAnswer is what a data source test answers.
type testAnswer struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}
