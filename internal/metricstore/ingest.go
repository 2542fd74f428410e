package metricstore

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/golang/snappy"
	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote"
	"google.golang.org/protobuf/encoding/protowire"
)

// Body limits of the ingest handlers. Remote write batches are tens of
// kilobytes (2,000 samples by default); OTLP batches from a collector
// reach a few megabytes. Callers must not cap these routes lower.
const (
	// MaxBodyBytes caps a request body as sent (compressed or not):
	// larger ones get 413.
	MaxBodyBytes = 16 << 20
	// MaxDecodedBytes caps a body once decompressed, Prometheus's own
	// cap: larger ones get 413.
	MaxDecodedBytes = 32 << 20
)

// WriteHandler accepts Prometheus remote write 1.0 (and 2.0) requests:
// POST, snappy-compressed protobuf. It answers 204 when stored, 400 for
// a request it cannot read or samples it cannot take (too old, out of
// order beyond the window), 413 for a body over MaxBodyBytes, 415 for a
// Content-Type or Content-Encoding it does not speak. Series with
// invalid label names are dropped, as Prometheus drops them. The
// metadata of 1.0 requests (sent apart from the samples) and 2.0 series
// is kept for Metadata.
func (s *Store) WriteHandler() http.Handler { return s.write }

// OTLPHandler accepts OTLP/HTTP metrics export requests: POST, protobuf
// (Content-Type application/x-protobuf) or JSON (application/json),
// optionally gzip-compressed. It answers 200 when stored, 400 for a
// request it cannot read, 413 for a body over MaxBodyBytes or
// MaxDecodedBytes, 415 for an unknown Content-Type or
// Content-Encoding. Metric names are translated as Prometheus's own
// OTLP receiver translates them (suffixes added, resource attributes in
// target_info), so the same query works on both.
func (s *Store) OTLPHandler() http.Handler { return s.otlp }

// buildHandlers builds the ingest handlers, once: Prometheus's handlers
// register their metrics, which a second registration would refuse.
func (s *Store) buildHandlers() {
	app := metaAppendable{s}
	rw := remote.NewWriteHandler(s.logger, s.reg, app,
		remoteapi.MessageTypes{remoteapi.WriteV1MessageType, remoteapi.WriteV2MessageType},
		false, // no zero samples at start timestamps: Prometheus's default
		false, // no __type__ and __unit__ labels: Prometheus's default
		true,  // hand 2.0 metadata to the appender, which keeps it
	)
	otlp := remote.NewOTLPWriteHandler(s.logger, s.reg, app,
		func() config.Config { return config.DefaultConfig },
		remote.OTLPOptions{LookbackDelta: QueryLookbackDelta})
	s.write = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveWrite(w, r, rw) })
	s.otlp = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveOTLP(w, r, otlp) })
}

// serveWrite reads the body under the limit, picks the metadata out of a
// 1.0 request (Prometheus's handler drops it), and lets Prometheus's
// handler store the samples. The metadata is kept once they commit.
func (s *Store) serveWrite(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if !allowPost(w, r) {
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var md map[string]metadata.Metadata
	if enc := r.Header.Get("Content-Encoding"); isV1(r.Header.Get("Content-Type")) && (enc == "" || enc == "snappy") {
		var err error
		if md, err = v1Metadata(body); err != nil {
			status := http.StatusBadRequest
			if errors.Is(err, errDecodedTooLarge) {
				status = http.StatusRequestEntityTooLarge
			}
			http.Error(w, "remote write refused: "+err.Error(), status)
			return
		}
	}
	// The metadata rides in the context to the appender Prometheus's
	// handler opens for this request, which keeps it on commit.
	r = r.Clone(context.WithValue(r.Context(), v1MetadataKey{}, md))
	r.Body = io.NopCloser(bytes.NewReader(body))
	next.ServeHTTP(&prefixWriter{ResponseWriter: w, prefix: "remote write refused: "}, r)
}

// v1MetadataKey is the context key of a 1.0 request's metadata.
type v1MetadataKey struct{}

// serveOTLP reads and decompresses the body under the limits and lets
// Prometheus's handler decode and store it.
func (s *Store) serveOTLP(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if !allowPost(w, r) {
		return
	}
	ct := r.Header.Get("Content-Type")
	mediaType, _, err := mime.ParseMediaType(ct)
	if err != nil || (mediaType != "application/x-protobuf" && mediaType != "application/json") {
		http.Error(w, fmt.Sprintf("Content-Type must be application/x-protobuf or application/json (OTLP/HTTP), got %q", ct), http.StatusUnsupportedMediaType)
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "":
	case "gzip":
		if body, ok = gunzip(w, body); !ok {
			return
		}
	default:
		http.Error(w, fmt.Sprintf("Content-Encoding %q is not supported: send gzip or no compression", enc), http.StatusUnsupportedMediaType)
		return
	}
	r = r.Clone(r.Context())                // a handler must not change the request it was given
	r.Header.Set("Content-Type", mediaType) // Prometheus's decoder wants no parameters
	r.Header.Del("Content-Encoding")
	r.Body = io.NopCloser(bytes.NewReader(body))
	next.ServeHTTP(&prefixWriter{ResponseWriter: w, prefix: "OTLP metrics refused: "}, r)
}

// isV1 reports whether a remote write request with Content-Type ct
// carries a 1.0 message; Prometheus's handler answers the others.
func isV1(ct string) bool {
	if strings.TrimSpace(ct) == "" {
		return true
	}
	t, err := remoteapi.ParseProtoMsg(ct)
	return err == nil && t == remoteapi.WriteV1MessageType
}

func allowPost(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodPost {
		return true
	}
	w.Header().Set("Allow", http.MethodPost)
	http.Error(w, "only POST is allowed here", http.StatusMethodNotAllowed)
	return false
}

// readBody reads the whole body, refusing one over MaxBodyBytes with 413.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	tooLarge := fmt.Sprintf("request body is larger than the %d bytes allowed: send smaller batches", MaxBodyBytes)
	if r.ContentLength > MaxBodyBytes {
		http.Error(w, tooLarge, http.StatusRequestEntityTooLarge)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		http.Error(w, tooLarge, http.StatusRequestEntityTooLarge)
		return nil, false
	case err != nil:
		http.Error(w, "reading request body: "+err.Error(), http.StatusBadRequest)
		return nil, false
	}
	return body, true
}

// gunzip decompresses body, refusing more than MaxDecodedBytes with 413.
func gunzip(w http.ResponseWriter, body []byte) ([]byte, bool) {
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		http.Error(w, "body is not gzip-compressed as Content-Encoding says: "+err.Error(), http.StatusBadRequest)
		return nil, false
	}
	out, err := io.ReadAll(io.LimitReader(zr, MaxDecodedBytes+1))
	if err != nil {
		http.Error(w, "body is not valid gzip: "+err.Error(), http.StatusBadRequest)
		return nil, false
	}
	if len(out) > MaxDecodedBytes {
		http.Error(w, errDecodedTooLarge.Error(), http.StatusRequestEntityTooLarge)
		return nil, false
	}
	return out, true
}

// errDecodedTooLarge refuses a body that decompresses past the cap.
var errDecodedTooLarge = fmt.Errorf("body decompresses to more than the %d bytes allowed: send smaller batches", MaxDecodedBytes)

// v1Metadata decompresses a remote write 1.0 body and returns the
// metadata in it, by metric family. Only a body that does not
// decompress is an error: one the scan cannot read has no metadata to
// keep, and what is wrong with it is for Prometheus's handler to say.
func v1Metadata(compressed []byte) (map[string]metadata.Metadata, error) {
	n, err := snappy.DecodedLen(compressed)
	if err != nil {
		return nil, fmt.Errorf("body is not snappy-compressed (remote write needs the snappy block format): %w", err)
	}
	if n > MaxDecodedBytes {
		return nil, errDecodedTooLarge
	}
	buf := getBuffer(n)
	defer decodeBuffers.Put(buf)
	data, err := snappy.Decode(*buf, compressed)
	if err != nil {
		return nil, fmt.Errorf("body is not snappy-compressed (remote write needs the snappy block format): %w", err)
	}
	md, _ := scanMetadata(data)
	return md, nil
}

// writeRequestMetadata is the metadata's field number in
// prometheus.WriteRequest (prompb/remote.proto).
const writeRequestMetadata = 3

// scanMetadata returns the metadata entries of a serialized
// prometheus.WriteRequest, skipping its time series without decoding
// them: that is what makes keeping metadata cheap. It is stricter than
// the gogo decoder about malformed input (groups, overlong varints),
// which no real sender produces.
func scanMetadata(data []byte) (map[string]metadata.Metadata, error) {
	var out map[string]metadata.Metadata
	for off := 0; off < len(data); {
		num, typ, n := protowire.ConsumeTag(data[off:])
		if n < 0 {
			return nil, fmt.Errorf("not a protobuf WriteRequest: bad field tag at byte %d: %w", off, protowire.ParseError(n))
		}
		off += n
		if num != writeRequestMetadata || typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, data[off:])
			if n < 0 {
				return nil, fmt.Errorf("not a protobuf WriteRequest: bad field %d at byte %d: %w", num, off, protowire.ParseError(n))
			}
			off += n
			continue
		}
		b, n := protowire.ConsumeBytes(data[off:])
		if n < 0 {
			return nil, fmt.Errorf("not a protobuf WriteRequest: bad metadata at byte %d: %w", off, protowire.ParseError(n))
		}
		off += n
		var mm prompb.MetricMetadata
		if err := mm.Unmarshal(b); err != nil {
			return nil, fmt.Errorf("bad metadata entry at byte %d: %w", off-len(b), err)
		}
		if out == nil {
			out = map[string]metadata.Metadata{}
		}
		out[mm.MetricFamilyName] = metadata.Metadata{Type: metricType(mm.Type), Help: mm.Help, Unit: mm.Unit}
	}
	return out, nil
}

// metricType spells a 1.0 metric type as model.MetricType does.
func metricType(t prompb.MetricMetadata_MetricType) model.MetricType {
	name, ok := prompb.MetricMetadata_MetricType_name[int32(t)]
	if !ok {
		return model.MetricTypeUnknown
	}
	return model.MetricType(strings.ToLower(name))
}

// metaAppendable hands Prometheus's handlers appenders that collect the
// metadata passing through and keep it once their samples commit.
type metaAppendable struct{ s *Store }

func (a metaAppendable) Appender(ctx context.Context) storage.Appender {
	app := &metaAppender{Appender: a.s.db.Appender(ctx), batch: metaBatch{s: a.s}}
	if md, ok := ctx.Value(v1MetadataKey{}).(map[string]metadata.Metadata); ok {
		app.batch.seen = md
	}
	return app
}

func (a metaAppendable) AppenderV2(ctx context.Context) storage.AppenderV2 {
	return &metaAppenderV2{AppenderV2: a.s.db.AppenderV2(ctx), batch: metaBatch{s: a.s}}
}

// metaAppender is the remote write handler's: a 1.0 request's metadata
// comes from serveWrite, a 2.0 request's per series through
// UpdateMetadata.
type metaAppender struct {
	storage.Appender
	batch metaBatch
}

// UpdateMetadata keeps md for the family; the TSDB does not need it.
func (a *metaAppender) UpdateMetadata(ref storage.SeriesRef, l labels.Labels, md metadata.Metadata) (storage.SeriesRef, error) {
	a.batch.note(l.Get(metricName), md)
	return ref, nil
}

func (a *metaAppender) Commit() error {
	if err := a.Appender.Commit(); err != nil {
		return err
	}
	a.batch.keep()
	return nil
}

// metaAppenderV2 is the OTLP handler's: metadata comes with each sample.
type metaAppenderV2 struct {
	storage.AppenderV2
	batch metaBatch
}

func (a *metaAppenderV2) Append(ref storage.SeriesRef, ls labels.Labels, st, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, opts storage.AOptions) (storage.SeriesRef, error) {
	ref, err := a.AppenderV2.Append(ref, ls, st, t, v, h, fh, opts)
	if !opts.Metadata.IsEmpty() {
		name := opts.MetricFamilyName
		if name == "" {
			name = ls.Get(metricName)
		}
		a.batch.note(name, opts.Metadata)
	}
	return ref, err
}

func (a *metaAppenderV2) Commit() error {
	if err := a.AppenderV2.Commit(); err != nil {
		return err
	}
	a.batch.keep()
	return nil
}

// metaBatch collects one request's metadata by family name.
type metaBatch struct {
	s *Store
	// last is the family noted last: samples of one family come
	// together, so most notes stop at this comparison.
	lastName string
	last     metadata.Metadata
	seen     map[string]metadata.Metadata
}

func (b *metaBatch) note(name string, md metadata.Metadata) {
	if name == "" || (name == b.lastName && md == b.last) {
		return
	}
	name = strings.Clone(name) // the caller's bytes may be reused
	b.lastName, b.last = name, md
	if b.seen == nil {
		b.seen = map[string]metadata.Metadata{}
	}
	b.seen[name] = md
}

// keep hands the batch to the store's map. Samples are stored by now,
// so a failure to write the metadata file is logged, not answered.
func (b *metaBatch) keep() {
	if len(b.seen) == 0 {
		return
	}
	if err := b.s.meta.merge(b.seen); err != nil {
		b.s.logger.Error("keeping metric metadata", "err", err)
	}
}

// prefixWriter starts the body of a 400 answer with prefix, so a bare
// "unexpected EOF" or "too old sample" says what it is about.
type prefixWriter struct {
	http.ResponseWriter
	prefix string
}

func (w *prefixWriter) WriteHeader(code int) {
	w.ResponseWriter.WriteHeader(code)
	if code == http.StatusBadRequest {
		io.WriteString(w.ResponseWriter, w.prefix)
	}
}

func (w *prefixWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// decodeBuffers recycles the buffers v1Metadata decompresses into
// (*[]byte, so putting one back allocates nothing).
var decodeBuffers sync.Pool

func getBuffer(n int) *[]byte {
	if p, ok := decodeBuffers.Get().(*[]byte); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]byte, n)
	return &b
}
