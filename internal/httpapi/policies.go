package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/tocsinhq/tocsin/internal/contact"
	"github.com/tocsinhq/tocsin/internal/problem"
	"github.com/tocsinhq/tocsin/internal/route"
	"github.com/tocsinhq/tocsin/internal/store"
)

func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	// Policies page by (position, id), so their cursors have a form; one
	// that lacks it is the client's mistake, not the store's.
	cursor := q.Get("cursor")
	if cursor != "" {
		if _, _, err := store.ParsePolicyCursor(cursor); err != nil {
			return &Error{Status: http.StatusBadRequest, Code: "invalid-cursor", Field: "cursor",
				Message: fmt.Sprintf("cursor %q is not the next of a page of policies: pass next as it came, or leave cursor out to start again", cursor)}
		}
	}
	items, next, err := s.opts.Store.ListPolicies(r.Context(), store.PolicyFilter{Query: strings.TrimSpace(q.Get("q")), Limit: limit, Cursor: cursor})
	if err != nil {
		return err
	}
	if items == nil {
		items = []*route.Policy{}
	}
	writeJSON(w, http.StatusOK, listResponse[*route.Policy]{Items: items, Next: next})
	return nil
}

// decodePolicy reads a policy (defaults applied, validated) and turns its
// targets (ids or names) into ids, reporting unknown ones with the other
// problems.
func (s *Server) decodePolicy(r *http.Request) (*route.Policy, error) {
	data, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var p route.Policy
	if err := problem.DecodeStrict(data, &p, ""); err != nil {
		return nil, err
	}
	// Decoding validates, but a JSON null decodes to the zero policy
	// without a word.
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, s.resolveTargets(r.Context(), &p)
}

// resolveTargets replaces the target references of p with ids. A reference
// that names nothing, or a target listed already under another reference,
// is a problem of its field (targets.channels[1]).
func (s *Server) resolveTargets(ctx context.Context, p *route.Policy) error {
	st := s.opts.Store
	groups := resolver(st.GetContactGroup, st.GetContactGroupByName, func(g *contact.Group) string { return g.ID })
	var probs problem.List
	var err error
	if p.Targets.Channels, err = contact.ResolveRefs(ctx, &probs, "targets.channels", "channel", p.Targets.Channels, s.channelResolver()); err != nil {
		return err
	}
	if p.Targets.ContactGroups, err = contact.ResolveRefs(ctx, &probs, "targets.contact_groups", "contact group", p.Targets.ContactGroups, groups); err != nil {
		return err
	}
	return probs.Err()
}

func (s *Server) createPolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := s.decodePolicy(r)
	if err != nil {
		return err
	}
	if err := s.opts.Store.CreatePolicy(r.Context(), p, s.opts.Now()); err != nil {
		return err
	}
	s.policiesChanged()
	s.opts.Logger.InfoContext(r.Context(), "policy created", "id", p.ID, "name", p.Name, "position", p.Position)
	w.Header().Set("Location", "/api/v1/policies/"+p.ID)
	writeJSON(w, http.StatusCreated, p)
	return nil
}

func (s *Server) lookupPolicy(r *http.Request) (*route.Policy, error) {
	return lookup(r.Context(), r.PathValue("id"), "policy", s.opts.Store.GetPolicy, s.opts.Store.GetPolicyByName)
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := s.lookupPolicy(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) updatePolicy(w http.ResponseWriter, r *http.Request) error {
	stored, err := s.lookupPolicy(r)
	if err != nil {
		return err
	}
	p, err := s.decodePolicy(r)
	if err != nil {
		return err
	}
	p.ID = stored.ID
	if err := s.opts.Store.UpdatePolicy(r.Context(), p, s.opts.Now()); err != nil {
		return err
	}
	s.policiesChanged()
	s.opts.Logger.InfoContext(r.Context(), "policy updated", "id", p.ID, "name", p.Name, "position", p.Position)
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) deletePolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := s.lookupPolicy(r)
	if err != nil {
		return err
	}
	if err := s.opts.Store.DeletePolicy(r.Context(), p.ID); err != nil {
		return err
	}
	s.policiesChanged()
	s.opts.Logger.InfoContext(r.Context(), "policy deleted", "id", p.ID, "name", p.Name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// policiesChanged tells Options.PoliciesChanged, if set, that the stored
// policies changed.
func (s *Server) policiesChanged() {
	if s.opts.PoliciesChanged != nil {
		s.opts.PoliciesChanged()
	}
}
