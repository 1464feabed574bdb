// Package dashboard serves the asynq web UI (asynqmon) for frameq's queues,
// read-only unless an operator explicitly asks for write actions behind
// basic auth.
//
//	h, err := dashboard.New(dashboard.Options{
//		Redis:    asynq.RedisClientOpt{Addr: "127.0.0.1:6379"},
//		RootPath: "/monitoring",
//	})
//	if err != nil {
//		return err
//	}
//	defer h.(io.Closer).Close()
//	mux.Handle("/monitoring/", h)
//
// asynqmon has no authentication of its own, and its write API can pause,
// delete and re-run every job in Redis. So the handler refuses every request
// other than GET and HEAD unless [Options.Writable] is set, and Writable
// needs a user and password ([EnvUser], [EnvPassword]) that every request
// must then present. Task payloads are shown through [FormatPayload], which
// echoes only the fields an operator needs and never a URL's query string.
//
// asynqmon's Metrics page is off: it charts asynq's own series
// (asynq_queue_size, ...) read from a Prometheus server, and frameq neither
// runs one nor exports those names; its queue figures are on the worker's
// /metrics (frameq_queue_tasks, ...).
package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
)

// Names of the settings that hold the dashboard's credentials; errors name
// them so an operator knows what to set.
const (
	EnvUser     = "FRAMEQ_DASHBOARD_USER"
	EnvPassword = "FRAMEQ_DASHBOARD_PASSWORD"
)

// DefaultRootPath is where the dashboard lives when Options.RootPath is empty.
const DefaultRootPath = "/monitoring"

// Options configures the dashboard.
type Options struct {
	// Redis is asynq's connection, e.g. asynq.RedisClientOpt or the result
	// of asynq.ParseRedisURI. Required.
	Redis asynq.RedisConnOpt
	// RootPath is the URL path the dashboard is served under, starting
	// with "/"; DefaultRootPath when empty. Mount the handler at
	// RootPath+"/".
	RootPath string
	// Writable enables asynqmon's write actions (pause, retry, delete).
	// It requires User and Password.
	Writable bool
	// User and Password, when set, are required of every request, reads
	// included, as HTTP basic auth.
	User, Password string
}

// Handler is the dashboard. It owns Redis connections: Close releases them.
type Handler struct {
	http.Handler
	mon *asynqmon.HTTPHandler
}

// Close closes the dashboard's Redis connections.
func (h *Handler) Close() error { return h.mon.Close() }

// New returns the dashboard handler (a *Handler, which also has Close). It
// refuses a writable dashboard without credentials.
func New(o Options) (http.Handler, error) {
	root, err := checkOptions(&o)
	if err != nil {
		return nil, err
	}
	mon := asynqmon.New(asynqmon.Options{
		RootPath:         root,
		RedisConnOpt:     o.Redis,
		PayloadFormatter: asynqmon.PayloadFormatterFunc(FormatPayload),
		ResultFormatter:  asynqmon.ResultFormatterFunc(FormatResult),
		ReadOnly:         !o.Writable,
	})
	var h http.Handler = mon
	if o.Writable {
		// Browsers replay cached basic-auth credentials on requests from
		// any site, so a foreign page could otherwise pause our queues.
		h = http.NewCrossOriginProtection().Handler(h)
	} else {
		h = readOnly(h)
	}
	h = noMetrics(root, h)
	if o.User != "" {
		h = basicAuth(o.User, o.Password, h)
	}
	return &Handler{Handler: securityHeaders(h), mon: mon}, nil
}

// checkOptions validates o and returns the normalized root path, so that
// asynqmon, which panics on bad options, only ever sees good ones.
func checkOptions(o *Options) (string, error) {
	if o.Redis == nil {
		return "", errors.New("dashboard: option Redis is required")
	}
	root := o.RootPath
	if root == "" {
		root = DefaultRootPath
	}
	if !strings.HasPrefix(root, "/") || strings.ContainsAny(root, "?#{}") {
		return "", fmt.Errorf("dashboard: option RootPath %q must be a path starting with \"/\"", o.RootPath)
	}
	switch {
	case (o.User == "") != (o.Password == ""):
		return "", fmt.Errorf("dashboard: set both %s and %s, or neither", EnvUser, EnvPassword)
	case o.Writable && o.User == "":
		return "", fmt.Errorf("dashboard: a writable dashboard needs basic auth: set %s and %s", EnvUser, EnvPassword)
	}
	return strings.TrimSuffix(root, "/"), nil
}
