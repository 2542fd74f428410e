package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tocsinhq/tocsin/internal/datasource"
	"github.com/tocsinhq/tocsin/internal/route"
	"github.com/tocsinhq/tocsin/internal/secret"
)

// DatasourceRecord is a data source as every backend stores it, as a
// channel is: the settings JSON with every secret masked, and the secrets
// sealed with the data source's id as additional data.
type DatasourceRecord struct {
	ID, Name             string
	Settings             []byte // JSON, datasourceSettings
	Secrets              []byte // AES-GCM sealed JSON object of secret name -> value
	CreatedAt, UpdatedAt time.Time
}

// datasourceSettings is what a data source keeps in its settings JSON:
// every field but the columns, the secrets masked (secret.String marshals
// so), and the timeout written as people write one ("30s"), to the
// nanosecond.
type datasourceSettings struct {
	URL         string            `json:"url"`
	BearerToken secret.String     `json:"bearer_token"`
	Username    string            `json:"username"`
	Password    secret.String     `json:"password"`
	Headers     map[string]string `json:"headers"`
	Timeout     string            `json:"timeout"`
}

// The names the sealed secrets of a data source go by.
const (
	secretBearerToken = "bearer_token"
	secretPassword    = "password"
)

// EncodeDatasource returns the record of d under id, sealing its secrets
// with box, with CreatedAt and UpdatedAt set to now as StoredTime (an
// update writes UpdatedAt only).
func EncodeDatasource(box *secret.Box, id string, d *datasource.Source, now time.Time) (DatasourceRecord, error) {
	settings, err := json.Marshal(datasourceSettings{
		URL: d.URL, BearerToken: d.BearerToken, Username: d.Username, Password: d.Password,
		Headers: d.Headers, Timeout: route.FormatDuration(d.Timeout),
	})
	if err != nil {
		return DatasourceRecord{}, fmt.Errorf("data source %q: encode settings: %w", d.Name, err)
	}
	sealed, err := sealSecrets(box, id, map[string]string{
		secretBearerToken: d.BearerToken.Reveal(),
		secretPassword:    d.Password.Reveal(),
	})
	if err != nil {
		return DatasourceRecord{}, fmt.Errorf("data source %q: %w", d.Name, err)
	}
	return DatasourceRecord{
		ID: id, Name: d.Name, Settings: settings, Secrets: sealed,
		CreatedAt: StoredTime(now), UpdatedAt: StoredTime(now),
	}, nil
}

// Decode returns the data source r stores, its secrets in clear. It fails
// (secret.ErrOpen) when box holds another key than the one r was sealed
// with.
func (r DatasourceRecord) Decode(box *secret.Box) (*datasource.Source, error) {
	var s datasourceSettings
	if err := json.Unmarshal(r.Settings, &s); err != nil {
		return nil, fmt.Errorf("data source %s: decode settings: %w", r.ID, err)
	}
	timeout, err := route.ParseDuration(s.Timeout)
	if err != nil {
		return nil, fmt.Errorf("data source %s: decode timeout: %w", r.ID, err)
	}
	values, err := openSecrets(box, "data source", r.ID, r.Secrets)
	if err != nil {
		return nil, err
	}
	return &datasource.Source{
		ID: r.ID, Name: r.Name, URL: s.URL,
		BearerToken: secret.New(values[secretBearerToken]),
		Username:    s.Username,
		Password:    secret.New(values[secretPassword]),
		Headers:     s.Headers, Timeout: timeout,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}, nil
}

// DatasourcePage decodes the records of one ListDatasources page, read
// with one record more than limit, as ChannelPage does.
func DatasourcePage(box *secret.Box, rs []DatasourceRecord, limit int) (items []*datasource.Source, next string, err error) {
	rs, next = Page(rs, limit, func(r DatasourceRecord) string { return r.ID })
	items, err = decodeAll(rs, func(r DatasourceRecord) (*datasource.Source, error) { return r.Decode(box) })
	if err != nil {
		return nil, "", err
	}
	return items, next, nil
}
