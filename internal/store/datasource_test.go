package store_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tocsinhq/tocsin/internal/datasource"
	"github.com/tocsinhq/tocsin/internal/secret"
	"github.com/tocsinhq/tocsin/internal/store"
	"github.com/tocsinhq/tocsin/internal/store/storetest"
)

func TestDatasourceRecordRoundTrip(t *testing.T) {
	box := storetest.NewBox(t)
	for _, tt := range []struct {
		name string
		edit func(*datasource.Source)
	}{
		{"every field", func(*datasource.Source) {}},
		{"no credentials, headers or timeout", func(d *datasource.Source) {
			d.BearerToken, d.Username, d.Password, d.Headers, d.Timeout = secret.String{}, "", secret.String{}, nil, 0
		}},
		{"empty headers, odd timeout", func(d *datasource.Source) {
			d.Headers, d.Timeout = map[string]string{}, 1500*time.Microsecond+7
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := storetest.NewDatasource("mimir")
			tt.edit(d)
			orig := *d
			r, err := store.EncodeDatasource(box, "01id", d, now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&orig, d, channelOpts); diff != "" {
				t.Errorf("EncodeDatasource changed its data source (-before +after):\n%s", diff)
			}
			for _, v := range []string{d.BearerToken.Reveal(), d.Password.Reveal()} {
				if v != "" && (bytes.Contains(r.Settings, []byte(v)) || bytes.Contains(r.Secrets, []byte(v))) {
					t.Errorf("secret %s is in the record in clear", secret.New(v))
				}
			}
			var settings map[string]any
			if err := json.Unmarshal(r.Settings, &settings); err != nil {
				t.Fatalf("settings %s: %v", r.Settings, err)
			}
			if settings["url"] != d.URL || settings["bearer_token"] != d.BearerToken.String() {
				t.Errorf("settings %s: want the URL in clear and the bearer token masked", r.Settings)
			}

			got, err := r.Decode(box)
			if err != nil {
				t.Fatal(err)
			}
			want := orig
			want.ID, want.CreatedAt, want.UpdatedAt = "01id", store.StoredTime(now), store.StoredTime(now)
			if diff := cmp.Diff(&want, got, channelOpts); diff != "" {
				t.Errorf("Decode(EncodeDatasource(d)) differs from d (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDatasourceSecretsBoundToID: sealed secrets moved to another data
// source's row do not open there.
func TestDatasourceSecretsBoundToID(t *testing.T) {
	box := storetest.NewBox(t)
	a, err := store.EncodeDatasource(box, "01a", storetest.NewDatasource("a"), now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := store.EncodeDatasource(box, "01b", storetest.NewDatasource("b"), now)
	if err != nil {
		t.Fatal(err)
	}
	b.Secrets = a.Secrets
	if _, err := b.Decode(box); !errors.Is(err, secret.ErrOpen) {
		t.Errorf("decoding a record holding another's sealed secrets: error %v, want %v", err, secret.ErrOpen)
	}
}
