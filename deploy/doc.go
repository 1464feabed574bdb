// Package deploy holds the deployment files' checks: docker-compose.yml
// (with deploy/compose.sim.yaml) loaded by compose-go, the loader docker
// compose itself uses, so that its properties are tested on a machine
// without a Docker engine. It has no code of its own.
package deploy
