package throttle

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// stateScript reads a scope without changing it.
// KEYS: hold, adapt. ARGV: margin, slope, then per limit: name, configured
// interval µs, window µs. Returns {remaining hold µs, effective interval µs
// per limit}.
const stateScript = luaCommon + `
local now = now_us()
local f = factor(KEYS[2], now, tonumber(ARGV[2]))
local hold = tonumber(redis.call('GET', KEYS[1]))
local out = {0}
if hold and hold > now then out[1] = hold - now end
for a = 3, #ARGV, 3 do
  local scale = (1 - tonumber(ARGV[1])) * f
  if roomy(KEYS[2], ARGV[a], now, tonumber(ARGV[a + 2])) then scale = f end
  out[#out + 1] = interval(KEYS[2], ARGV[a], tonumber(ARGV[a + 1]), scale)
end
return out
`

var stateLua = redis.NewScript(stateScript)

// State is a scope's current effective rates and remaining hold.
type State struct {
	// Rates are permits per second by limit name, after Margin (unless the
	// server has room to spare, see ObserveRemaining), AIMD cuts and rates
	// adopted from the server's headers.
	Rates map[string]float64
	// Hold is how long every permit of the scope is still refused after a
	// 429; 0 when there is no hold.
	Hold time.Duration
}

// State reports scope's current effective rates and remaining hold, for
// metrics and tests.
func (l *Limiter) State(ctx context.Context, scope string) (State, error) {
	if scope == "" {
		return State{}, fmt.Errorf("throttle: state: scope: must not be empty")
	}
	names := sortedNames(l.cfg.Limits)
	args := []any{strconv.FormatFloat(l.cfg.Margin, 'g', -1, 64), l.slope()}
	for _, n := range names {
		args = append(args, n, l.cfg.Limits[n].interval().Microseconds(), l.cfg.Limits[n].Per.Microseconds())
	}
	keys := []string{l.key(scope, "hold"), l.key(scope, "adapt")}
	v, err := stateLua.Run(ctx, l.rdb, keys, args...).Int64Slice()
	if err != nil {
		return State{}, fmt.Errorf("throttle: state: %w", err)
	}
	if len(v) != len(names)+1 {
		return State{}, fmt.Errorf("throttle: state: unexpected reply %v", v)
	}
	s := State{Rates: make(map[string]float64, len(names)), Hold: time.Duration(v[0]) * time.Microsecond}
	for i, n := range names {
		s.Rates[n] = float64(time.Second/time.Microsecond) / float64(max(v[i+1], 1))
	}
	return s, nil
}
