package metricstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/metadata"
)

// metadataFile holds the metadata map in the store's directory, next to
// the TSDB's blocks (which the TSDB tells apart by their ULID names).
const metadataFile = "metadata.json"

// Bounds on what the metadata map keeps, so a sender with unbounded
// metric names or huge help texts cannot grow it without end: at most
// maxMetadata families (later new names are dropped, known ones still
// update), each help text cut to maxHelpBytes.
const (
	maxMetadata  = 10_000
	maxHelpBytes = 1024
)

// metadataMap is the metadata of each metric family, by family name, as
// senders last sent it. It is written to its file whenever it changes;
// senders repeat unchanged metadata (Prometheus every minute), which
// costs a map lookup and no write.
type metadataMap struct {
	path   string
	logger *slog.Logger

	// mu guards byName and full, and orders the file writes.
	mu     sync.Mutex
	byName map[string]metadata.Metadata
	full   bool // a new name was dropped for want of room (logged once)
}

// metadataFileContent is the file's JSON.
type metadataFileContent struct {
	Metrics map[string]metadata.Metadata `json:"metrics"`
}

// loadMetadata reads the map from path; a missing file is an empty map.
func loadMetadata(path string, logger *slog.Logger) (*metadataMap, error) {
	m := &metadataMap{path: path, logger: logger, byName: map[string]metadata.Metadata{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read metadata: %w", err)
	}
	var c metadataFileContent
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("read metadata %s: %w (delete the file to start with no metadata)", path, err)
	}
	for name, md := range c.Metrics {
		if len(m.byName) == maxMetadata {
			break
		}
		m.byName[name] = bounded(md)
	}
	return m, nil
}

// merge records batch (family name -> metadata) and writes the file if
// anything changed. Empty metadata and empty names are ignored.
func (m *metadataMap) merge(batch map[string]metadata.Metadata) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := false
	for name, md := range batch {
		if name == "" || md.IsEmpty() {
			continue
		}
		md = bounded(md)
		old, known := m.byName[name]
		if known && old == md {
			continue
		}
		if !known && len(m.byName) >= maxMetadata {
			if !m.full {
				m.full = true
				m.logger.Warn("metric metadata is full: new metric families get none", "limit", maxMetadata, "dropped", name)
			}
			continue
		}
		m.byName[name] = md
		changed = true
	}
	if !changed {
		return nil
	}
	return m.write()
}

// write replaces the file atomically: a crash leaves the old file or
// the new one, never half of one.
func (m *metadataMap) write() error {
	data, err := json.Marshal(metadataFileContent{Metrics: m.byName})
	if err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(m.path), metadataFile+".*.tmp")
	if err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write metadata: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write metadata: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	if err := os.Rename(tmp.Name(), m.path); err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	return nil
}

// get returns a copy of the metadata of metric, or of all when "".
func (m *metadataMap) get(metric string) map[string]metadata.Metadata {
	m.mu.Lock()
	defer m.mu.Unlock()
	if metric == "" {
		return maps.Clone(m.byName)
	}
	out := map[string]metadata.Metadata{}
	if md, ok := m.byName[metric]; ok {
		out[metric] = md
	}
	return out
}

// bounded cuts md's help to maxHelpBytes on a rune boundary and spells
// an unknown type as Prometheus does.
func bounded(md metadata.Metadata) metadata.Metadata {
	if md.Type == "" {
		md.Type = model.MetricTypeUnknown
	}
	if len(md.Help) > maxHelpBytes {
		cut := maxHelpBytes
		for cut > 0 && !utf8.RuneStart(md.Help[cut]) {
			cut--
		}
		md.Help = strings.Clone(md.Help[:cut])
	}
	return md
}
