package notify

import (
	"context"
	"errors"
	"strings"
	"testing"
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
