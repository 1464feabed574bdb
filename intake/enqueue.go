package intake

import (
	"context"
	"net/http"

	"github.com/frameq/frameq/tasks/job"
)

// enqueue writes an accepted batch: its owner and callback first (a worker
// finishing a file must find them), then the tasks, then the seal, after
// which the batch can be seen to have finished.
func (s *Server) enqueue(w http.ResponseWriter, r *http.Request, key Key, req *request, uploads []*job.Upload, idem, bodySum string) {
	ctx := context.WithoutCancel(r.Context()) // a client gone mid-write must not leave half a batch
	if idem != "" {
		won, err := s.claim(ctx, key, idem, bodySum)
		if err != nil {
			s.internal(w, err)
			return
		}
		if !won { // a twin request got in between replay and here
			s.replay(w, r, key, idem, bodySum)
			return
		}
	}
	answer, err := s.write(ctx, key, req, uploads)
	if idem != "" {
		if serr := s.settle(ctx, key, idem, bodySum, answer); serr != nil && err == nil {
			err = serr
		}
	}
	if err != nil {
		s.internal(w, err)
		return
	}
	s.metrics.items.WithLabelValues("accepted").Add(float64(len(uploads)))
	writeJSON(w, http.StatusCreated, answer)
}

func (s *Server) write(ctx context.Context, key Key, req *request, uploads []*job.Upload) (*Created, error) {
	batch := job.NewBatchID()
	checked, err := job.Check(batch, uploads, s.opts.Box)
	if err != nil {
		return nil, err // checked before; only a bug gets here
	}
	if err := s.meta.Open(ctx, batch, key.Name, req.CallbackURL); err != nil {
		return nil, err
	}
	res, err := s.enq.EnqueueChecked(ctx, checked)
	if err != nil {
		return nil, err
	}
	if req.CallbackURL != "" && res.Queued > 0 {
		// Files another batch had queued finish in that batch's record:
		// its settled files must wake this one.
		owners, err := s.batches.Owners(ctx, batch)
		if err == nil {
			err = s.meta.Watch(ctx, batch, owners)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := s.meta.Seal(ctx, batch); err != nil {
		return nil, err
	}
	if req.CallbackURL != "" {
		// Finished already (nothing to do, or workers were quick): only
		// the seal could tell, so it is the intake that notifies.
		if _, err := s.notifier.Settled(ctx, batch); err != nil {
			s.opts.Log.Warn().Err(err).Str("batch", batch).Msg("webhook not enqueued; the next finished file will")
		}
	}
	return &Created{Batch: batch, Enqueued: res.Enqueued, AlreadyQueued: res.Queued, AlreadyUploaded: res.Done}, nil
}
