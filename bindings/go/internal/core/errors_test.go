package core

import "testing"

// Every status of the library has its Go error, whose text is the library's own description:
// a kind added to the core without its Go sentinel fails here.
func TestEveryStatusOfTheLibraryHasItsGoErrorWithTheSameText(t *testing.T) {
	all := statuses()
	if len(all) < 12 || all[0].name != "GOFER_OK" {
		t.Fatalf("statuses: %+v", all)
	}
	for _, s := range all[1:] {
		if s.value == statusWouldBlock {
			continue // not an error: the non-blocking calls' "nothing yet", handled where they are made
		}
		kind, ok := kinds[s.value]
		if !ok {
			t.Errorf("%s has no Go error", s.name)
			continue
		}
		if kind.Error() != s.description {
			t.Errorf("%s: Go says %q, the library %q", s.name, kind.Error(), s.description)
		}
	}
}
