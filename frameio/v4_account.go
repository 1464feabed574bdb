package frameio

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrAccountChoice marks an account that cannot be chosen from the
// configuration: the wanted one is not the token's, or the token has none
// or several and none was named. It is the operator's to fix.
var ErrAccountChoice = errors.New("choose the Frame.io account")

// ChooseAccount returns want if the token has that account, else the
// token's only account. Without want, a token with several accounts is an
// ErrAccountChoice error that lists them.
func (v *V4) ChooseAccount(ctx context.Context, want string) (string, error) {
	accounts, err := v.Accounts(ctx)
	if err != nil {
		return "", err
	}
	ids := make([]string, len(accounts))
	for i, a := range accounts {
		if a.ID == want {
			return want, nil
		}
		ids[i] = a.ID
		if a.DisplayName != "" {
			ids[i] += " (" + a.DisplayName + ")"
		}
	}
	switch {
	case want != "":
		return "", fmt.Errorf("%w: account %s is not one of the token's: %s", ErrAccountChoice, want, strings.Join(ids, ", "))
	case len(accounts) == 1:
		return accounts[0].ID, nil
	case len(accounts) == 0:
		return "", fmt.Errorf("%w: the token has no V4 account", ErrAccountChoice)
	}
	return "", fmt.Errorf("%w: the token has %d accounts, name one: %s", ErrAccountChoice, len(accounts), strings.Join(ids, ", "))
}
