package manifest

import (
	"errors"
	"strings"
	"testing"
)

func TestParseCheckedReportsCheckErrorsWithTheOthers(t *testing.T) {
	in := `{"file":"a","parent_id":"p"}` + "\n" + `{"file":"gone","parent_id":"p"}` + "\n" + `{"file":"b"}` + "\n"
	_, err := ParseChecked(strings.NewReader(in), JSONL, func(e Entry) error {
		if e.File == "gone" {
			return errors.New("no such file")
		}
		return nil
	})
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 || errs[0].Line != 2 || errs[1].Line != 3 {
		t.Fatalf("got %v, want line 2 (check) and line 3 (parent_id)", err)
	}
}
