package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tocsinhq/tocsin/internal/channel"
	"github.com/tocsinhq/tocsin/internal/contact"
	"github.com/tocsinhq/tocsin/internal/store"
)

// lookup finds an object by id, or else by name, so URLs and references
// may use either.
func lookup[T any](ctx context.Context, ref, what string, byID, byName func(context.Context, string) (T, error)) (T, error) {
	v, err := byIDOrName(ctx, ref, byID, byName)
	if errors.Is(err, store.ErrNotFound) {
		return v, &Error{Status: http.StatusNotFound, Code: "not-found", Message: fmt.Sprintf("no %s has the id or name %q", what, ref)}
	}
	return v, err
}

// byIDOrName gets ref as an id, or else as a name; store.ErrNotFound when
// it is neither.
func byIDOrName[T any](ctx context.Context, ref string, byID, byName func(context.Context, string) (T, error)) (T, error) {
	v, err := byID(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		v, err = byName(ctx, ref)
	}
	return v, err
}

func (s *Server) listContacts(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	items, next, err := s.opts.Store.ListContacts(r.Context(), store.ContactFilter{Query: strings.TrimSpace(q.Get("q")), Limit: limit, Cursor: q.Get("cursor")})
	if err != nil {
		return err
	}
	if items == nil {
		items = []*contact.Contact{}
	}
	writeJSON(w, http.StatusOK, listResponse[*contact.Contact]{Items: items, Next: next})
	return nil
}

func (s *Server) decodeContact(r *http.Request) (*contact.Contact, error) {
	data, err := readBody(r)
	if err != nil {
		return nil, err
	}
	in, err := contact.Decode(data)
	if err != nil {
		return nil, err
	}
	return contact.Validate(in)
}

func (s *Server) createContact(w http.ResponseWriter, r *http.Request) error {
	c, err := s.decodeContact(r)
	if err != nil {
		return err
	}
	if err := s.opts.Store.CreateContact(r.Context(), c, s.opts.Now()); err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/contacts/"+c.ID)
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) lookupContact(r *http.Request) (*contact.Contact, error) {
	return lookup(r.Context(), r.PathValue("id"), "contact", s.opts.Store.GetContact, s.opts.Store.GetContactByName)
}

func (s *Server) getContact(w http.ResponseWriter, r *http.Request) error {
	c, err := s.lookupContact(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) updateContact(w http.ResponseWriter, r *http.Request) error {
	stored, err := s.lookupContact(r)
	if err != nil {
		return err
	}
	c, err := s.decodeContact(r)
	if err != nil {
		return err
	}
	c.ID, c.CreatedAt = stored.ID, stored.CreatedAt
	if err := s.opts.Store.UpdateContact(r.Context(), c, s.opts.Now()); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) deleteContact(w http.ResponseWriter, r *http.Request) error {
	c, err := s.lookupContact(r)
	if err != nil {
		return err
	}
	if err := s.opts.Store.DeleteContact(r.Context(), c.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listContactGroups(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	items, next, err := s.opts.Store.ListContactGroups(r.Context(), store.GroupFilter{Query: strings.TrimSpace(q.Get("q")), Limit: limit, Cursor: q.Get("cursor")})
	if err != nil {
		return err
	}
	if items == nil {
		items = []*contact.Group{}
	}
	writeJSON(w, http.StatusOK, listResponse[*contact.Group]{Items: items, Next: next})
	return nil
}

// decodeGroup reads a group and turns its member references (ids or
// names) into ids, reporting unknown members with the other problems.
func (s *Server) decodeGroup(r *http.Request) (*contact.Group, error) {
	data, err := readBody(r)
	if err != nil {
		return nil, err
	}
	in, err := contact.DecodeGroup(data)
	if err != nil {
		return nil, err
	}
	g, err := contact.ValidateGroup(in)
	if err != nil {
		return nil, err
	}
	st := s.opts.Store
	contacts := resolver(st.GetContact, st.GetContactByName, func(c *contact.Contact) string { return c.ID })
	return g, g.Resolve(r.Context(), contacts, s.channelResolver())
}

// channelResolver resolves channel references, for group members and
// policy targets.
func (s *Server) channelResolver() contact.Resolver {
	return resolver(s.opts.Store.GetChannel, s.opts.Store.GetChannelByName, func(c *channel.Channel) string { return c.ID })
}

// resolver adapts a store's by-id and by-name getters to contact.Resolver.
func resolver[T any](byID, byName func(context.Context, string) (T, error), id func(T) string) contact.Resolver {
	return func(ctx context.Context, ref string) (string, bool, error) {
		v, err := byIDOrName(ctx, ref, byID, byName)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return "", false, nil
		case err != nil:
			return "", false, err
		}
		return id(v), true, nil
	}
}

func (s *Server) createContactGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := s.decodeGroup(r)
	if err != nil {
		return err
	}
	if err := s.opts.Store.CreateContactGroup(r.Context(), g, s.opts.Now()); err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/contact-groups/"+g.ID)
	writeJSON(w, http.StatusCreated, g)
	return nil
}

func (s *Server) lookupContactGroup(r *http.Request) (*contact.Group, error) {
	return lookup(r.Context(), r.PathValue("id"), "contact group", s.opts.Store.GetContactGroup, s.opts.Store.GetContactGroupByName)
}

func (s *Server) getContactGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := s.lookupContactGroup(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, g)
	return nil
}

func (s *Server) updateContactGroup(w http.ResponseWriter, r *http.Request) error {
	stored, err := s.lookupContactGroup(r)
	if err != nil {
		return err
	}
	g, err := s.decodeGroup(r)
	if err != nil {
		return err
	}
	g.ID, g.CreatedAt = stored.ID, stored.CreatedAt
	if err := s.opts.Store.UpdateContactGroup(r.Context(), g, s.opts.Now()); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, g)
	return nil
}

func (s *Server) deleteContactGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := s.lookupContactGroup(r)
	if err != nil {
		return err
	}
	if err := s.opts.Store.DeleteContactGroup(r.Context(), g.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
