package template

import (
	"cmp"
	"slices"
	"strings"

	"github.com/tocsinhq/tocsin/internal/alert"
	"github.com/tocsinhq/tocsin/internal/notify/fit"
)

// maxTelling bounds how many labels a list line shows: enough to tell
// alerts apart in practice, few enough to stay one short line.
const maxTelling = 3

// telling returns the names of the labels that tell a list of alerts
// apart, so each line of the list can show only those. Of the labels whose
// values vary across sets, it takes alertname first, then the where-labels
// (instance, pod, …), then the others with the most distinct values, each
// only if it tells more alerts apart than the labels before it, until all
// are told apart or maxTelling are taken. Severity is never one: lists are
// ordered by it and say it in their headings.
func telling(sets []alert.Labels) []string {
	if len(sets) < 2 {
		return nil
	}
	// How many distinct values each label has, absence included.
	values := map[string]map[string]struct{}{}
	for _, ls := range sets {
		for _, l := range ls {
			if values[l.Name] == nil {
				values[l.Name] = map[string]struct{}{}
			}
		}
	}
	for name, vs := range values {
		for _, ls := range sets {
			vs[ls.Get(name)] = struct{}{}
		}
	}
	var cands []string
	for name, vs := range values {
		if len(vs) > 1 && name != "severity" {
			cands = append(cands, name)
		}
	}
	rank := func(name string) int {
		if name == "alertname" {
			return -1
		}
		return whereRank(name)
	}
	slices.SortFunc(cands, func(a, b string) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(len(values[b]), len(values[a])), strings.Compare(a, b))
	})

	fps := make(map[alert.Fingerprint]struct{}, len(sets))
	for _, ls := range sets {
		fps[ls.Fingerprint()] = struct{}{}
	}
	want := len(fps)
	keys := make([]string, len(sets))
	told := 1
	var by []string
	for _, name := range cands {
		next := make([]string, len(sets))
		for i, ls := range sets {
			next[i] = keys[i] + "\xff" + ls.Get(name)
		}
		n := distinct(len(next), func(i int) string { return next[i] })
		if n <= told {
			continue
		}
		by, keys, told = append(by, name), next, n
		if told == want || len(by) == maxTelling {
			break
		}
	}
	return by
}

// distinct counts the distinct values of key(0) … key(n-1).
func distinct(n int, key func(int) string) int {
	seen := make(map[string]struct{}, n)
	for i := range n {
		seen[key(i)] = struct{}{}
	}
	return len(seen)
}

// ident is the line's name for an alert: the values of the by labels it
// has, each one line and bounded, joined by ", ". Without any, it falls
// back to where the alert fires, then to its fingerprint.
func ident(a alert.Alert, by []string, maxRunes int) string {
	vs := identValues(a, by, maxRunes)
	if len(vs) == 0 {
		return a.Fingerprint.String()
	}
	return strings.Join(vs, ", ")
}

func identValues(a alert.Alert, by []string, maxRunes int) []string {
	var vs []string
	for _, name := range by {
		if v := a.Labels.Get(name); v != "" {
			vs = append(vs, fit.Line(v, maxRunes))
		}
	}
	if len(vs) == 0 {
		for _, l := range Where(a.Labels) {
			vs = append(vs, fit.Line(l.Value, maxRunes))
		}
	}
	return vs
}

// shortSummaries shortens the summaries of a list's alerts to what a line
// needs beside the alertname and the values that name the alert (idents,
// per alert): words naming either are dropped ("HighCPU on web-1: 93%"
// on the line for web-1 keeps "on 93%"), then the leading words every
// summary shares ("on"), leaving "93%". When the summaries are all the
// same, that one is common and each is "": the list says it once; when
// they differ only in the words dropped, common is the first, "e.g. …".
// Summaries are cleaned one-line text (see Summary).
func shortSummaries(sums []string, name string, idents [][]string) (common string, each []string) {
	each = make([]string, len(sums))
	if !slices.ContainsFunc(sums, func(s string) bool { return s != sums[0] }) {
		return sums[0], each // said once as written, nothing dropped
	}
	words := make([][]string, len(sums))
	for i, sum := range sums {
		for w := range strings.FieldsSeq(sum) {
			if !names(strings.Trim(w, ".,:;!?()[]{}'\"/"), name, idents[i]) {
				words[i] = append(words[i], w)
			}
		}
	}
	same := true
	for _, ws := range words[1:] {
		if !slices.Equal(ws, words[0]) {
			same = false
			break
		}
	}
	if same {
		// They differ only in what names each alert: one, as written,
		// says it for all better than a summary with holes in it.
		return "e.g. " + sums[0], each
	}
	shared := len(words[0])
	for _, ws := range words[1:] {
		n := 0
		for n < min(shared, len(ws)) && ws[n] == words[0][n] {
			n++
		}
		shared = n
	}
	for i, ws := range words {
		each[i] = strings.Join(ws[shared:], " ")
	}
	return "", each
}

// names reports whether a word of a summary names the alert: it is the
// alertname or one of the values that identify it, or part of such a
// value or holding one ("web-1" of "web-1:9100", "payments/web-1"), if
// the part looks like an identifier rather than a word ("node" is no part
// of "node-7" here: "nodes" would lose its meaning).
func names(word, alertname string, idents []string) bool {
	if word == "" {
		return false
	}
	if word == alertname {
		return true
	}
	for _, v := range idents {
		if word == v || (identLike(word) && strings.Contains(v, word)) || (identLike(v) && strings.Contains(word, v)) {
			return true
		}
	}
	return false
}

// identLike reports whether s looks like a host, pod or address rather
// than a word: at least three bytes with a digit or a separator.
func identLike(s string) bool { return len(s) >= 3 && strings.ContainsAny(s, "0123456789-_.:/@") }
