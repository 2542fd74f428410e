package fit

import "strings"

// Span is one line of a text, text[Start:End] without its "\n", and Size,
// what the line adds to a part as the platform counts it.
type Span struct{ Start, End, Size int }

// Measure cuts text at every "\n" into spans, sized by size. A text ending
// in "\n" ends in an empty span; an empty text is one empty span.
func Measure(text string, size func(line string) int) []Span {
	spans := make([]Span, 0, strings.Count(text, "\n")+1)
	for start := 0; ; {
		end := strings.IndexByte(text[start:], '\n')
		if end < 0 {
			return append(spans, Span{start, len(text), size(text[start:])})
		}
		end += start
		spans = append(spans, Span{start, end, size(text[start:end])})
		start = end + 1
	}
}

// Pack fills chunks with whole lines of text (its spans, from Measure),
// greedily: the first chunk up to first bytes, the others up to rest, each
// line costing its Size and each join between two lines sep. A line larger
// than a whole chunk is shortened by cut to the chunk's budget and makes a
// chunk of its own; cuts counts those. The chunks are slices of text, not
// copies, and joined with "\n" they give it back, but for the ends of cut
// lines.
func Pack(text string, lines []Span, first, rest, sep int, cut func(line string, budget int) string) (chunks []string, cuts int) {
	budget := first
	open := false
	var start, end, size int
	emit := func(c string) {
		chunks = append(chunks, c)
		budget, open = rest, false
	}
	for _, ln := range lines {
		if open && size+sep+ln.Size <= budget {
			end, size = ln.End, size+sep+ln.Size
			continue
		}
		if open {
			emit(text[start:end])
		}
		if ln.Size > budget {
			emit(cut(text[ln.Start:ln.End], budget))
			cuts++
			continue
		}
		start, end, size, open = ln.Start, ln.End, ln.Size, true
	}
	if open {
		chunks = append(chunks, text[start:end])
	}
	return chunks, cuts
}
