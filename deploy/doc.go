// Package deploy holds what operators deploy beside frameq: Prometheus
// rules (prometheus/) and a Grafana dashboard (grafana/). It has no code;
// its tests check those files with promtool and against the metrics a live
// worker really exports.
package deploy
