// Package deploy holds what operators deploy beside frameq and its checks:
// docker-compose.yml (with deploy/compose.sim.yaml) loaded by compose-go, the
// loader docker compose itself uses, so its properties are tested on a
// machine without a Docker engine; Prometheus rules (prometheus/) and a
// Grafana dashboard (grafana/), checked with promtool and against the
// metrics a live worker really exports. It has no code of its own.
package deploy
