package frameio_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/frameq/frameq/frameio"
	"github.com/frameq/frameq/frameiosim"
)

func TestChooseAccountTakesTheOnlyOneOrTheNamedOne(t *testing.T) {
	sim := frameiosim.StartTest(t, frameiosim.Config{
		API:          frameiosim.APIV4,
		Tokens:       map[string]string{"one": "acct-one", "many": "acct-a"},
		MoreAccounts: map[string][]string{"many": {"acct-b"}},
	})
	client := func(token string) *frameio.V4 {
		v, err := frameio.NewV4(frameio.Options{BaseURL: sim.V4URL(), Token: token})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	ctx := context.Background()
	if id, err := client("one").ChooseAccount(ctx, ""); err != nil || id != "acct-one" {
		t.Errorf("only account: %q, %v; want acct-one", id, err)
	}
	if id, err := client("many").ChooseAccount(ctx, "acct-b"); err != nil || id != "acct-b" {
		t.Errorf("named account: %q, %v; want acct-b", id, err)
	}
	_, err := client("many").ChooseAccount(ctx, "")
	if !errors.Is(err, frameio.ErrAccountChoice) || !strings.Contains(err.Error(), "acct-a") || !strings.Contains(err.Error(), "acct-b") {
		t.Errorf("several accounts: %v; want ErrAccountChoice naming acct-a and acct-b", err)
	}
	_, err = client("one").ChooseAccount(ctx, "acct-b")
	if !errors.Is(err, frameio.ErrAccountChoice) || !strings.Contains(err.Error(), "acct-b") {
		t.Errorf("foreign account: %v; want ErrAccountChoice naming acct-b", err)
	}
	_, err = client("nobody").ChooseAccount(ctx, "")
	if err == nil || errors.Is(err, frameio.ErrAccountChoice) {
		t.Errorf("rejected token: %v; want the API's error, not a choice to make", err)
	}
}
