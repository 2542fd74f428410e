package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestAsErrorKeepsClassificationAndRetriesUnknownErrors(t *testing.T) {
	perm := &Error{Action: Permanent, Code: "keyword-missing", PlatformCode: 310000, PlatformMessage: "keywords not in content", Message: "no keyword"}
	wrapped := errors.Join(errors.New("context"), perm)
	if got := AsError(wrapped); got != perm {
		t.Errorf("AsError(wrapped) = %v, want the wrapped *Error", got)
	}
	if !strings.Contains(perm.Error(), "310000") || !strings.Contains(perm.Error(), "keywords not in content") {
		t.Errorf("Error() = %q, want the platform code and message", perm.Error())
	}
	other := AsError(context.DeadlineExceeded)
	if other.Action != Retry || other.Code != "internal" || !errors.Is(other, context.DeadlineExceeded) {
		t.Errorf("AsError(unclassified) = %+v, want a retryable error wrapping it", other)
	}
	if AsError(nil) != nil {
		t.Error("AsError(nil) != nil")
	}
}

func TestDialGuardChecksResolvedAddress(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	var seen []string
	refuse := func(addr string, ip netip.Addr) error {
		seen = append(seen, addr+"="+ip.String())
		return fmt.Errorf("%s: %w", ip, ErrAddressRefused)
	}
	_, err := NewHTTPClient(time.Second, refuse).Get(srv.URL)
	if !errors.Is(err, ErrAddressRefused) {
		t.Errorf("refused dial: err = %v, want ErrAddressRefused", err)
	}
	if len(seen) != 1 || !strings.HasSuffix(seen[0], "=127.0.0.1") {
		t.Errorf("guard saw %v, want the loopback address", seen)
	}
	resp, err := NewHTTPClient(time.Second, func(string, netip.Addr) error { return nil }).Get(srv.URL)
	if err != nil {
		t.Fatalf("allowed dial: %v", err)
	}
	DrainClose(resp.Body)
}
