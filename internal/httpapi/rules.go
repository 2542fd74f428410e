package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tocsinhq/tocsin/internal/contact"
	"github.com/tocsinhq/tocsin/internal/problem"
	"github.com/tocsinhq/tocsin/internal/route"
	"github.com/tocsinhq/tocsin/internal/rule"
	"github.com/tocsinhq/tocsin/internal/ruler"
	"github.com/tocsinhq/tocsin/internal/store"
)

// Rules is the rule evaluator as the API sees it.
type Rules interface {
	// Status is a rule's evaluation status.
	Status(id string) ruler.Status
	// Preview evaluates a rule (stored or not) now and over the last hour.
	Preview(ctx context.Context, r *rule.Rule, datasourceID string, now time.Time) (*ruler.Preview, error)
}

// ruleView is a rule as the API shows it: the rule, and how its
// evaluation goes.
type ruleView struct {
	*rule.Rule
	Status *ruler.Status
}

// MarshalJSON writes the rule's JSON with a "status" member added.
func (v ruleView) MarshalJSON() ([]byte, error) {
	raw, err := json.Marshal(v.Rule)
	if err != nil || v.Status == nil {
		return raw, err
	}
	st, err := json.Marshal(v.Status)
	if err != nil {
		return nil, err
	}
	raw = raw[:len(raw)-1] // the closing brace
	raw = append(raw, `,"status":`...)
	raw = append(raw, st...)
	return append(raw, '}'), nil
}

func (s *Server) view(sr *store.StoredRule) ruleView {
	v := ruleView{Rule: &sr.Rule}
	if s.opts.Rules != nil {
		st := s.opts.Rules.Status(sr.ID)
		v.Status = &st
	}
	return v
}

func (s *Server) listRules(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	kind := rule.Kind(q.Get("kind"))
	if kind != "" && kind != rule.KindMetric && kind != rule.KindEvent {
		return &Error{Status: http.StatusBadRequest, Code: "invalid-value", Field: "kind",
			Message: fmt.Sprintf("kind %q is not known: use metric or event, or leave it out", kind)}
	}
	items, next, err := s.opts.Store.ListRules(r.Context(), store.RuleFilter{Query: strings.TrimSpace(q.Get("q")), Kind: kind, Limit: limit, Cursor: q.Get("cursor")})
	if err != nil {
		return err
	}
	views := make([]ruleView, len(items))
	for i, sr := range items {
		views[i] = s.view(sr)
	}
	writeJSON(w, http.StatusOK, listResponse[ruleView]{Items: views, Next: next})
	return nil
}

// decodeRule reads and validates a rule (defaults applied, a builder
// compiled into expr).
func decodeRule(r *http.Request) (*rule.Rule, error) {
	data, err := readBody(r)
	if err != nil {
		return nil, err
	}
	ru, err := rule.Decode(data)
	if err != nil {
		return nil, err
	}
	return &ru, nil
}

// ruleRefs are the ids a rule's references resolve to.
type ruleRefs struct {
	policyID, datasourceID string
	// managed is the policy Tocsin keeps for a rule's own channels and
	// contact groups, to create or update; nil when the rule has none.
	managed *route.Policy
}

// managedPolicyName names the policy kept for a rule that notifies
// channels and contact groups itself.
func managedPolicyName(ruleName string) string { return "rule: " + ruleName }

// resolveRule turns a rule's references (policy, channels, contact
// groups, data source: ids or names) into ids, reporting unknown ones as
// problems of their fields. old is the stored rule being replaced, if any.
func (s *Server) resolveRule(ctx context.Context, ru *rule.Rule, old *store.StoredRule) (ruleRefs, error) {
	st := s.opts.Store
	var (
		probs problem.List
		refs  ruleRefs
		err   error
	)
	switch t := &ru.Targets; {
	case t.Policy != "":
		p, err := byIDOrName(ctx, t.Policy, st.GetPolicy, st.GetPolicyByName)
		switch {
		case errors.Is(err, store.ErrNotFound):
			probs.Add("targets.policy", "not-found", "no policy has the id or name %q: create it first, or name channels and contact groups instead", t.Policy)
		case err != nil:
			return refs, err
		default:
			refs.policyID = p.ID
		}
	case t.Direct():
		groups := resolver(st.GetContactGroup, st.GetContactGroupByName, func(g *contact.Group) string { return g.ID })
		if t.Channels, err = contact.ResolveRefs(ctx, &probs, "targets.channels", "channel", t.Channels, s.channelResolver()); err != nil {
			return refs, err
		}
		if t.ContactGroups, err = contact.ResolveRefs(ctx, &probs, "targets.contact_groups", "contact group", t.ContactGroups, groups); err != nil {
			return refs, err
		}
		// An equality matcher always builds.
		m, _ := route.NewMatcher(route.MatchEqual, ruleLabel, ru.Name)
		refs.managed = &route.Policy{Name: managedPolicyName(ru.Name), Position: managedPolicyPosition,
			Matchers: route.Matchers{m},
			Targets:  route.Targets{Channels: t.Channels, ContactGroups: t.ContactGroups},
			GroupBy:  []string{"alertname"}, GroupWait: 30 * time.Second, GroupInterval: time.Minute,
			RepeatInterval: 4 * time.Hour, SendResolved: true, Mention: route.MentionCritical}
		if old != nil && old.PolicyID != "" && old.Targets.Direct() {
			refs.managed.ID = old.PolicyID
		}
	}
	if ds := ru.Datasource; ds != "" && ds != rule.Embedded {
		d, err := byIDOrName(ctx, ds, st.GetDatasource, st.GetDatasourceByName)
		switch {
		case errors.Is(err, store.ErrNotFound):
			probs.Add("datasource", "not-found", "no data source has the id or name %q: create it under /api/v1/datasources, or use \"embedded\"", ds)
		case err != nil:
			return refs, err
		default:
			refs.datasourceID = d.ID
			ru.Datasource = d.Name
		}
	}
	return refs, probs.Err()
}

// managedPolicyPosition puts the policies kept for rules after the ones
// people write; they never match by labels anyway (ruleLabel is set on no
// alert): the dispatcher sends a rule's alerts to its policy by name.
const managedPolicyPosition = 1_000_000

// ruleLabel is the label a managed policy's matcher names.
const ruleLabel = "tocsin_rule"

func (s *Server) createRule(w http.ResponseWriter, r *http.Request) error {
	ru, err := decodeRule(r)
	if err != nil {
		return err
	}
	if err := s.storeRule(r.Context(), ru, nil); err != nil {
		return err
	}
	s.opts.Logger.InfoContext(r.Context(), "rule created", "id", ru.ID, "name", ru.Name, "kind", ru.Kind)
	w.Header().Set("Location", "/api/v1/rules/"+ru.ID)
	sr, err := s.opts.Store.GetRule(r.Context(), ru.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, s.view(sr))
	return nil
}

// storeRule resolves a rule's references, keeps its managed policy, and
// creates the rule (old nil) or replaces old with it.
func (s *Server) storeRule(ctx context.Context, ru *rule.Rule, old *store.StoredRule) error {
	refs, err := s.resolveRule(ctx, ru, old)
	if err != nil {
		return err
	}
	now := s.opts.Now()
	st := s.opts.Store
	createdPolicy := false
	if m := refs.managed; m != nil {
		if m.ID != "" {
			err = st.UpdatePolicy(ctx, m, now)
		} else {
			err = st.CreatePolicy(ctx, m, now)
			createdPolicy = err == nil
		}
		if err != nil {
			return fmt.Errorf("keep the policy of rule %q: %w", ru.Name, err)
		}
		refs.policyID = m.ID
	}
	if old == nil {
		err = st.CreateRule(ctx, ru, refs.policyID, refs.datasourceID, now)
	} else {
		ru.ID = old.ID
		err = st.UpdateRule(ctx, ru, refs.policyID, refs.datasourceID, now)
	}
	if err != nil {
		if createdPolicy {
			_ = st.DeletePolicy(ctx, refs.policyID)
		}
		return err
	}
	if old != nil && old.PolicyID != "" && old.PolicyID != refs.policyID && old.Targets.Direct() {
		// The rule no longer names its own targets: its policy goes.
		if err := st.DeletePolicy(ctx, old.PolicyID); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.opts.Logger.WarnContext(ctx, "delete a rule's former policy", "rule", ru.Name, "policy", old.PolicyID, "err", err)
		}
	}
	s.rulesChanged()
	return nil
}

func (s *Server) lookupRule(r *http.Request) (*store.StoredRule, error) {
	return lookup(r.Context(), r.PathValue("id"), "rule", s.opts.Store.GetRule, s.opts.Store.GetRuleByName)
}

func (s *Server) getRule(w http.ResponseWriter, r *http.Request) error {
	sr, err := s.lookupRule(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.view(sr))
	return nil
}

func (s *Server) updateRule(w http.ResponseWriter, r *http.Request) error {
	old, err := s.lookupRule(r)
	if err != nil {
		return err
	}
	ru, err := decodeRule(r)
	if err != nil {
		return err
	}
	if err := s.storeRule(r.Context(), ru, old); err != nil {
		return err
	}
	s.opts.Logger.InfoContext(r.Context(), "rule updated", "id", ru.ID, "name", ru.Name)
	sr, err := s.opts.Store.GetRule(r.Context(), ru.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.view(sr))
	return nil
}

func (s *Server) deleteRule(w http.ResponseWriter, r *http.Request) error {
	sr, err := s.lookupRule(r)
	if err != nil {
		return err
	}
	if err := s.opts.Store.DeleteRule(r.Context(), sr.ID); err != nil {
		return err
	}
	if sr.PolicyID != "" && sr.Targets.Direct() {
		if err := s.opts.Store.DeletePolicy(r.Context(), sr.PolicyID); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.opts.Logger.WarnContext(r.Context(), "delete a rule's policy", "rule", sr.Name, "policy", sr.PolicyID, "err", err)
		}
	}
	s.rulesChanged()
	s.opts.Logger.InfoContext(r.Context(), "rule deleted", "id", sr.ID, "name", sr.Name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// previewRule evaluates the rule in the body now and over the last hour.
// A rule being written may lack a name yet.
func (s *Server) previewRule(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Rules == nil {
		return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "rules are not evaluated by this server"}
	}
	data, err := readBody(r)
	if err != nil {
		return err
	}
	var ru rule.Rule
	if err := problem.DecodeStrict(data, &ru, ""); err != nil {
		return err
	}
	if strings.TrimSpace(ru.Name) == "" {
		ru.Name = "preview"
	}
	if err := ru.Validate(); err != nil {
		return err
	}
	ru.Targets = rule.Targets{} // a preview notifies no one
	refs, err := s.resolveRule(r.Context(), &ru, nil)
	if err != nil {
		return err
	}
	p, err := s.opts.Rules.Preview(r.Context(), &ru, refs.datasourceID, s.opts.Now())
	if err != nil {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "evaluation-failed", Message: err.Error()}
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// rulesChanged tells the evaluator and the pipeline that rules (and so
// perhaps the policies kept for them) changed.
func (s *Server) rulesChanged() {
	// Policies first: the rules' routes name them.
	s.policiesChanged()
	if s.opts.RulesChanged != nil {
		s.opts.RulesChanged()
	}
}

// importResult answers POST /api/v1/rules/import.
type importResult struct {
	Created []string `json:"created"`
	Updated []string `json:"updated"`
	// Skipped names what the file held that rules cannot be (recording
	// rules), with why.
	Skipped []string `json:"skipped"`
}

// importRules creates rules from a Prometheus rule file (YAML groups).
// A rule whose name exists is refused, the whole file with it, unless
// ?replace=true, which updates it.
func (s *Server) importRules(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	rules, skipped, err := rule.ImportPrometheus(data)
	if err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "invalid-rule-file", Message: err.Error()}
	}
	replace := r.URL.Query().Get("replace") == "true"
	ctx := r.Context()
	olds := make([]*store.StoredRule, len(rules))
	var taken []string
	for i := range rules {
		old, err := s.opts.Store.GetRuleByName(ctx, rules[i].Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			olds[i] = old
			taken = append(taken, rules[i].Name)
		}
	}
	if len(taken) > 0 && !replace {
		return &Error{Status: http.StatusConflict, Code: "conflict",
			Message: fmt.Sprintf("rules named %s exist already: rename them in the file, or import with ?replace=true to update them", strings.Join(quoteAll(taken), ", "))}
	}
	res := importResult{Created: []string{}, Updated: []string{}, Skipped: skipped}
	if res.Skipped == nil {
		res.Skipped = []string{}
	}
	for i := range rules {
		if err := s.storeRule(ctx, &rules[i], olds[i]); err != nil {
			return fmt.Errorf("rule %q (after %d created, %d updated): %w", rules[i].Name, len(res.Created), len(res.Updated), err)
		}
		if olds[i] == nil {
			res.Created = append(res.Created, rules[i].Name)
		} else {
			res.Updated = append(res.Updated, rules[i].Name)
		}
	}
	s.opts.Logger.InfoContext(ctx, "rules imported", "created", len(res.Created), "updated", len(res.Updated), "skipped", len(res.Skipped))
	writeJSON(w, http.StatusOK, res)
	return nil
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%q", n)
	}
	return out
}

// exportRules writes every metric rule as a Prometheus rule file.
func (s *Server) exportRules(w http.ResponseWriter, r *http.Request) error {
	all, err := s.opts.Store.AllRules(r.Context())
	if err != nil {
		return err
	}
	rules := make([]rule.Rule, len(all))
	for i, sr := range all {
		rules[i] = sr.Rule
	}
	out, _, err := rule.ExportPrometheus(rules)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
	return nil
}
