package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/frameq/frameq/seal"
	"github.com/frameq/frameq/tasks/records"
)

// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256 of t.body>".
const SignatureHeader = "X-Frameq-Signature"

// Sign returns the signature header's value for body sent at t. The
// timestamp is signed with the body so a receiver can refuse replays.
func Sign(secret []byte, t int64, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	ts := strconv.FormatInt(t, 10)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Summary is the webhook's body.
type Summary struct {
	Batch      string            `json:"batch"`
	Files      int64             `json:"files"`
	Done       int64             `json:"done"`
	Failed     int64             `json:"failed"`
	Skipped    int64             `json:"skipped"`
	Failures   []records.Failure `json:"failures"`
	FinishedAt string            `json:"finished_at"`
}

// Deliverer is the worker's handler of TypeWebhook tasks.
type Deliverer struct {
	// Box opens callback URLs the intake stored sealed (FRAMEQ_SECRET_KEY).
	Box     *seal.Box
	store   *Store
	batches *records.Batches
	secret  []byte
	hosts   Hosts
	client  *http.Client
	now     func() time.Time
}

// NewDeliverer returns a handler that signs with secret and POSTs only to
// hosts (checked again at delivery: the list may have shrunk since).
func NewDeliverer(rdb redis.UniversalClient, secret []byte, hosts Hosts) *Deliverer {
	return &Deliverer{
		store: NewStore(rdb), batches: records.NewBatches(rdb), secret: secret, hosts: hosts,
		client: &http.Client{
			Timeout: 30 * time.Second,
			// A redirect could lead anywhere; it counts as a failed attempt.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		now: time.Now,
	}
}

// ProcessTask implements asynq.Handler: one delivery attempt.
func (d *Deliverer) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p Payload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.Batch == "" {
		return fmt.Errorf("webhook payload: unreadable: %w", asynq.SkipRetry)
	}
	m, found, err := d.store.Get(ctx, p.Batch)
	if err != nil {
		return err
	}
	if !found || m.Callback == "" {
		return fmt.Errorf("batch %s: no callback recorded: %w", p.Batch, asynq.SkipRetry)
	}
	if len(d.secret) == 0 {
		return fmt.Errorf("batch %s: FRAMEQ_WEBHOOK_SECRET is not set on this worker: %w", p.Batch, asynq.SkipRetry)
	}
	callback, err := openCallback(d.Box, m.Callback)
	if err != nil {
		return fmt.Errorf("batch %s: %v: %w", p.Batch, err, asynq.SkipRetry)
	}
	if why := d.hosts.Check(callback); why != "" {
		return fmt.Errorf("batch %s: callback_url refused: %s: %w", p.Batch, why, asynq.SkipRetry)
	}
	body, err := d.summary(ctx, p)
	if err != nil {
		return err
	}
	err = d.post(ctx, callback, body)
	if err != nil && d.now().Sub(time.Unix(p.Since, 0)) > DeliveryWindow {
		return fmt.Errorf("batch %s: webhook not accepted within %v, last: %v: %w", p.Batch, DeliveryWindow, err, asynq.SkipRetry)
	}
	if err != nil {
		return fmt.Errorf("batch %s: webhook: %w", p.Batch, err)
	}
	return nil
}

func (d *Deliverer) summary(ctx context.Context, p Payload) ([]byte, error) {
	st, err := d.batches.Status(ctx, p.Batch)
	if err != nil {
		return nil, err
	}
	fails, err := d.batches.Failures(ctx, p.Batch)
	if err != nil {
		return nil, err
	}
	return json.Marshal(Summary{
		Batch: p.Batch, Files: st.Total(), Done: st.Counts[records.Done], Failed: st.Counts[records.Failed],
		Skipped: st.Counts[records.Skipped], Failures: fails,
		FinishedAt: time.Unix(p.Since, 0).UTC().Format(time.RFC3339),
	})
}

// post sends one signed attempt; only a 2xx is success. Errors never
// carry the URL (its query may be a secret).
func (d *Deliverer) post(ctx context.Context, callback string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, callback, bytes.NewReader(body))
	if err != nil {
		return errors.New("bad callback URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "frameq-webhook/1")
	req.Header.Set(SignatureHeader, Sign(d.secret, d.now().Unix(), body))
	resp, err := d.client.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			err = ue.Unwrap() // *url.Error repeats the URL
		}
		return fmt.Errorf("POST: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("receiver answered %d", resp.StatusCode)
	}
	return nil
}
