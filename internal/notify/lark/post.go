package lark

import (
	"strings"

	"github.com/tocsinhq/tocsin/internal/notify/fit"
)

// paragraphs turns a chunk of message text into post paragraphs, one per
// line. Blank lines are dropped: paragraphs already stand on lines of their
// own, and whether Lark takes an empty paragraph is undocumented.
func paragraphs(chunk string) [][]PostNode {
	var paras [][]PostNode
	for ln := range strings.SplitSeq(chunk, "\n") {
		if strings.TrimSpace(ln) != "" {
			paras = append(paras, paragraph(ln))
		}
	}
	return paras
}

// paragraph renders one line of Message.Text's markdown as post nodes. A
// post shows text as written, so the two constructs alert templates lean on
// are translated: a heading becomes bold text, and a [label](http…) link
// becomes an "a" node. Everything else is left as text.
func paragraph(ln string) []PostNode {
	if rest, ok := heading(ln); ok {
		return []PostNode{{Tag: "text", Text: rest, Style: []string{"bold"}}}
	}
	nodes := make([]PostNode, 0, 1+2*strings.Count(ln, "](")) // text, then a link and text per link
	text := func(s string) {
		if s != "" {
			nodes = append(nodes, PostNode{Tag: "text", Text: s})
		}
	}
	for done := 0; ; {
		label, href, start, end := nextLink(ln, done)
		if start < 0 {
			text(ln[done:])
			return nodes
		}
		text(ln[done:start])
		nodes = append(nodes, PostNode{Tag: "a", Text: label, Href: href})
		done = end
	}
}

// heading reports whether ln is a markdown heading ("#" to "######" and a
// space) and returns its text.
func heading(ln string) (string, bool) {
	n := 0
	for n < len(ln) && ln[n] == '#' {
		n++
	}
	if n == 0 || n > 6 || n == len(ln) || ln[n] != ' ' {
		return "", false
	}
	rest := strings.TrimSpace(ln[n:])
	return rest, rest != ""
}

// nextLink finds the first [label](url) in ln at or after from whose label
// is not empty and whose url is http(s) without spaces. start is -1 when
// there is none; ln[start:end] is the whole link.
func nextLink(ln string, from int) (label, href string, start, end int) {
	for i := from; ; {
		k := strings.Index(ln[i:], "](")
		if k < 0 {
			return "", "", -1, -1
		}
		k += i
		open := strings.LastIndexByte(ln[from:k], '[')
		closing := strings.IndexByte(ln[k+2:], ')')
		if open >= 0 && closing >= 0 {
			open += from
			label, href = ln[open+1:k], ln[k+2:k+2+closing]
			if label != "" && !strings.ContainsAny(label, "[]") && isWebURL(href) {
				return label, href, open, k + 2 + closing + 1
			}
		}
		i = k + 2
	}
}

func isWebURL(s string) bool {
	return (strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")) && !strings.ContainsAny(s, " \t")
}

// paragraphLen is the encoded length of ln's paragraph, brackets included;
// 0 for a blank line, which makes none.
func paragraphLen(ln string) int {
	if strings.TrimSpace(ln) == "" {
		return 0
	}
	return nodesLen(paragraph(ln))
}

// nodesLen is the encoded length of a paragraph, computed rather than
// encoded: a post is measured line by line, and encoding every line would
// be most of the work of rendering one. TestNodesLen holds it to
// encoding/json.
func nodesLen(nodes []PostNode) int {
	n := len("[]") + max(len(nodes)-1, 0) // the brackets and the commas
	for _, nd := range nodes {
		n += len(`{"tag":""}`) + fit.JSONLen(nd.Tag)
		for _, f := range [...]struct{ name, v string }{{"text", nd.Text}, {"href", nd.Href}, {"user_id", nd.UserID}, {"user_name", nd.UserName}} {
			if f.v != "" { // omitempty
				n += len(`,"":""`) + len(f.name) + fit.JSONLen(f.v)
			}
		}
		if len(nd.Style) > 0 {
			n += len(`,"style":[]`) + len(nd.Style) - 1
			for _, st := range nd.Style {
				n += len(`""`) + fit.JSONLen(st)
			}
		}
	}
	return n
}

// emptyParagraphLen is what a paragraph of one text node costs beyond its
// text: [{"tag":"text","text":""}].
var emptyParagraphLen = len(`[{"tag":"text","text":""}]`)

// cutParagraph shortens ln so that its paragraph fits budget, ending in
// "…". Cutting can complete or break a link, which changes the paragraph's
// size, so it measures the result and cuts again by the excess.
func cutParagraph(ln string, budget int) string {
	for room := budget - emptyParagraphLen; room > len(fit.Ellipsis); {
		c := fit.CutTo(ln, room)
		n := paragraphLen(c)
		if n <= budget {
			return c
		}
		room -= n - budget
	}
	return ""
}

// parasContain reports whether the text of any node holds a keyword: what
// Lark checks in a post (text values, not hrefs or user IDs).
func parasContain(paras [][]PostNode, keywords []string) bool {
	for _, p := range paras {
		for _, n := range p {
			if n.Tag != "at" && containsAny(n.Text, keywords) {
				return true
			}
		}
	}
	return false
}
