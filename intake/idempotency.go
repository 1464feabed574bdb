package intake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/redis/go-redis/v9"
)

// idemRecord is what an Idempotency-Key remembers: the hash of the body it
// came with, and once the request succeeded, its answer.
type idemRecord struct {
	BodySHA string   `json:"body_sha256"`
	Answer  *Created `json:"answer,omitempty"`
}

// idemKey is per API key, so two producers' keys never collide; the
// client's key is hashed, so any bytes it chose are a safe Redis key.
func idemKey(key Key, idem string) string {
	sum := sha256.Sum256([]byte(idem))
	return "frameq:intake:idem:" + key.Name + ":" + hex.EncodeToString(sum[:16])
}

// replay answers a request whose Idempotency-Key was seen: the first
// answer again for the same body, 409 otherwise. false: not seen, go on.
func (s *Server) replay(w http.ResponseWriter, r *http.Request, key Key, idem, bodySum string) bool {
	raw, err := s.rdb.Get(r.Context(), idemKey(key, idem)).Bytes()
	if errors.Is(err, redis.Nil) {
		return false
	}
	if err != nil {
		s.internal(w, err)
		return true
	}
	var rec idemRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		s.internal(w, err)
		return true
	}
	switch {
	case rec.BodySHA != bodySum:
		problem(w, http.StatusConflict, "Idempotency-Key was used with another body")
	case rec.Answer == nil:
		problem(w, http.StatusConflict, "a request with this Idempotency-Key is still being processed; retry later")
	default:
		w.Header().Set("Idempotent-Replayed", "true")
		writeJSON(w, http.StatusCreated, rec.Answer)
	}
	return true
}

// claim records the key as in progress; false if another request holds it.
func (s *Server) claim(ctx context.Context, key Key, idem, bodySum string) (bool, error) {
	b, _ := json.Marshal(idemRecord{BodySHA: bodySum})
	return s.rdb.SetNX(ctx, idemKey(key, idem), b, s.opts.IdempotencyTTL).Result()
}

// settle stores the answer, or forgets the key when the request failed so
// that a retry runs it again.
func (s *Server) settle(ctx context.Context, key Key, idem, bodySum string, answer *Created) error {
	if answer == nil {
		return s.rdb.Del(ctx, idemKey(key, idem)).Err()
	}
	b, _ := json.Marshal(idemRecord{BodySHA: bodySum, Answer: answer})
	return s.rdb.Set(ctx, idemKey(key, idem), b, s.opts.IdempotencyTTL).Err()
}
