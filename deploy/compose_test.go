package deploy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/frameq/frameq/frameiosim"
)

const (
	baseFile = "../docker-compose.yml"
	simFile  = "compose.sim.yaml"
)

// load loads the compose files as `docker compose` would with only env in
// the environment (no .env, no OS variables) and the profiles active.
func load(t *testing.T, env []string, profiles []string, files ...string) (*types.Project, error) {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	paths := make([]string, len(files))
	for i, f := range files {
		if paths[i], err = filepath.Abs(f); err != nil {
			t.Fatal(err)
		}
	}
	opts, err := cli.NewProjectOptions(paths,
		cli.WithName("frameq"), cli.WithWorkingDirectory(root),
		cli.WithEnv(env), cli.WithProfiles(profiles))
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

// tokensFile writes a tokens file holding secret and returns its path.
func tokensFile(t *testing.T, secret string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("default="+secret+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustLoad(t *testing.T, env []string, profiles []string, files ...string) *types.Project {
	t.Helper()
	p, err := load(t, env, profiles, files...)
	if err != nil {
		t.Fatalf("load %v: %v", files, err)
	}
	return p
}

// TestComposeRequiresTokensFile: a bare `docker compose up` no longer
// sends a placeholder token to the real API: without FRAMEQ_TOKENS_FILE the
// file does not load, and the error names the variable.
func TestComposeRequiresTokensFile(t *testing.T) {
	_, err := load(t, []string{"MEDIA_DIR=/srv/media"}, nil, baseFile)
	if err == nil || !strings.Contains(err.Error(), "FRAMEQ_TOKENS_FILE") {
		t.Fatalf("load without FRAMEQ_TOKENS_FILE: %v; want an error naming it", err)
	}
	if strings.Contains(err.Error(), "dev-token") {
		t.Errorf("error mentions a placeholder token: %v", err)
	}
}

// TestComposeKeepsTokensOut: the token reaches the workers only as a
// secret file: not in `docker compose config`'s output (even with tokens
// in the caller's environment), not in any service's environment, and the
// enqueue service gets no secret at all.
func TestComposeKeepsTokensOut(t *testing.T) {
	const secret = "tok-in-the-file-9f8e7d"
	env := []string{
		"FRAMEQ_TOKENS_FILE=" + tokensFile(t, secret), "MEDIA_DIR=/srv/media",
		"FRAMEQ_TOKEN=tok-in-the-env-1a2b3c", "FRAMEQ_IMS_CLIENT_SECRET=ims-secret-4d5e6f",
	}
	p := mustLoad(t, env, []string{"tools", "sim"}, baseFile)
	out, err := p.MarshalYAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{secret, "tok-in-the-env-1a2b3c", "ims-secret-4d5e6f", "dev-token"} {
		if strings.Contains(string(out), s) {
			t.Errorf("docker compose config shows %q", s)
		}
	}
	for name, svc := range p.Services {
		for k := range svc.Environment {
			if strings.HasPrefix(k, "FRAMEQ_TOKEN_") || k == "FRAMEQ_TOKEN" || strings.HasPrefix(k, "FRAMEQ_IMS_") {
				t.Errorf("service %s has %s in its environment", name, k)
			}
		}
	}
	w := service(t, p, "worker")
	if v := w.Environment["FRAMEQ_TOKENS_FILE"]; v == nil || *v != "/run/secrets/frameq_tokens" {
		t.Errorf("worker FRAMEQ_TOKENS_FILE = %v, want the secret's path", v)
	}
	for k, want := range map[string]string{"FRAMEQ_REDIS_URL": "redis://redis:6379/0", "FRAMEQ_UPLOAD_ROOT": "/media"} {
		if v := w.Environment[k]; v == nil || *v != want { // from the shared anchor, merged
			t.Errorf("worker %s = %v, want %s", k, v, want)
		}
	}
	if !slices.ContainsFunc(w.Secrets, func(s types.ServiceSecretConfig) bool { return s.Source == "frameq_tokens" }) {
		t.Errorf("worker secrets %v: want frameq_tokens", w.Secrets)
	}
	if e := service(t, p, "enqueue"); len(e.Secrets) > 0 || e.Environment["FRAMEQ_TOKENS_FILE"] != nil {
		t.Errorf("enqueue service gets the tokens: secrets %v", e.Secrets)
	}
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("service %s: %v", name, err)
	}
	return s
}

// TestComposeHealthRestartAndPorts: the worker checks itself with its own
// binary (distroless has no shell); Redis, workers and the simulator come
// back after a crash; nothing listens beyond loopback, and Redis (no
// password) is not published at all.
func TestComposeHealthRestartAndPorts(t *testing.T) {
	env := []string{"FRAMEQ_TOKENS_FILE=" + tokensFile(t, "x"), "MEDIA_DIR=/srv/media"}
	p := mustLoad(t, env, []string{"tools", "sim"}, baseFile)
	w := service(t, p, "worker")
	if w.HealthCheck == nil || !slices.Equal([]string(w.HealthCheck.Test), []string{"CMD", "/usr/local/bin/worker", "healthcheck"}) {
		t.Errorf("worker healthcheck %+v: want the worker binary's healthcheck", w.HealthCheck)
	}
	if r := service(t, p, "redis"); r.HealthCheck == nil || len(r.HealthCheck.Test) == 0 {
		t.Errorf("redis has no healthcheck")
	}
	for _, name := range []string{"redis", "worker", "frameio-sim"} {
		if r := service(t, p, name).Restart; r != types.RestartPolicyUnlessStopped && r != types.RestartPolicyAlways {
			t.Errorf("%s restart %q, want unless-stopped or always", name, r)
		}
	}
	for name, svc := range p.Services {
		for _, port := range svc.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s:%s beyond loopback", name, port.HostIP, port.Published)
			}
			if port.Target == 6379 || strings.Contains(port.Published, "6379") {
				t.Errorf("%s publishes Redis's port: %+v", name, port)
			}
		}
	}
	if dep, ok := w.DependsOn["redis"]; !ok || dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("worker depends_on redis: %+v, want service_healthy", dep)
	}
	if v := w.Environment["FRAMEQ_HTTP_ADDR"]; v == nil || !strings.HasSuffix(*v, ":8080") ||
		!slices.ContainsFunc(w.Ports, func(p types.ServicePortConfig) bool { return p.Target == 8080 }) {
		t.Errorf("worker listens on %v but publishes %+v", v, w.Ports)
	}
}

// TestComposeSimOverride: with deploy/compose.sim.yaml the simulator runs
// (no --profile needed) and every worker talks to it with the simulator's
// token; without the override the workers keep the real API.
func TestComposeSimOverride(t *testing.T) {
	env := []string{"FRAMEQ_TOKENS_FILE=deploy/sim.tokens", "MEDIA_DIR=/srv/media"}
	p := mustLoad(t, env, nil, baseFile, simFile)
	sim := service(t, p, "frameio-sim")
	if !slices.Contains([]string(sim.Command), "0.0.0.0:8090") {
		t.Errorf("simulator command %v does not listen on 8090", sim.Command)
	}
	w := service(t, p, "worker")
	if v := w.Environment["FRAMEQ_API_URL"]; v == nil || *v != "http://frameio-sim:8090/v4" {
		t.Errorf("worker FRAMEQ_API_URL = %v, want the simulator's V4 URL", v)
	}
	if _, ok := w.DependsOn["frameio-sim"]; !ok {
		t.Errorf("worker does not depend on the simulator: %v", w.DependsOn)
	}
	if _, ok := w.DependsOn["redis"]; !ok {
		t.Errorf("the override dropped the worker's Redis dependency: %v", w.DependsOn)
	}
	if s, ok := p.Secrets["frameq_tokens"]; !ok || !strings.HasSuffix(s.File, filepath.Join("deploy", "sim.tokens")) {
		t.Errorf("tokens secret %+v, want deploy/sim.tokens", s)
	}
	b, err := os.ReadFile("sim.tokens")
	if err != nil || !strings.Contains(string(b), "\ndefault="+frameiosim.DefaultToken+"\n") {
		t.Errorf("sim.tokens does not hold the simulator's token %q: %v\n%s", frameiosim.DefaultToken, err, b)
	}

	real := mustLoad(t, []string{"FRAMEQ_TOKENS_FILE=" + tokensFile(t, "x")}, nil, baseFile)
	if _, err := real.GetService("frameio-sim"); err == nil {
		t.Errorf("the simulator runs without the sim profile or override")
	}
	if v := service(t, real, "worker").Environment["FRAMEQ_API_URL"]; v != nil && *v != "" {
		t.Errorf("without the override the worker's API URL is %q", *v)
	}
}

// TestImageBuildsWhatComposeRuns: every entrypoint compose names is built
// into the image, and the build context leaves out what it must not carry.
func TestImageBuildsWhatComposeRuns(t *testing.T) {
	dockerfile, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"FRAMEQ_TOKENS_FILE=" + tokensFile(t, "x")}
	p := mustLoad(t, env, []string{"tools", "sim"}, baseFile)
	for name, svc := range p.Services {
		if len(svc.Entrypoint) == 0 || !strings.HasPrefix(svc.Entrypoint[0], "/usr/local/bin/") {
			continue
		}
		bin := strings.TrimPrefix(svc.Entrypoint[0], "/usr/local/bin/")
		if !strings.Contains(string(dockerfile), "./cmd/"+bin) {
			t.Errorf("service %s runs %s, which the Dockerfile does not build", name, bin)
		}
	}
	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(ignore))
	for _, want := range []string{".git", "bin", "media"} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.Trim(l, "/*") == want }) {
			t.Errorf(".dockerignore does not leave out %s", want)
		}
	}
}

// TestDeploymentDocWorkerFile: the worker-only compose file in
// docs/deployment.md loads, and keeps the same rules: tokens required as a
// secret, none in the environment, the health check.
func TestDeploymentDocWorkerFile(t *testing.T) {
	doc, err := os.ReadFile("../docs/deployment.md")
	if err != nil {
		t.Fatal(err)
	}
	const start = "```yaml\n# docker-compose.worker.yml"
	i := strings.Index(string(doc), start)
	if i < 0 {
		t.Fatal("docs/deployment.md has no docker-compose.worker.yml block")
	}
	block := string(doc[i+len("```yaml\n"):])
	block = block[:strings.Index(block, "```")]
	path := filepath.Join(t.TempDir(), "docker-compose.worker.yml")
	if err := os.WriteFile(path, []byte(block), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"REDIS_HOST=10.0.0.1", "FRAMEQ_REDIS_PASSWORD=pw"}
	if _, err := load(t, env, nil, path); err == nil || !strings.Contains(err.Error(), "FRAMEQ_TOKENS_FILE") {
		t.Errorf("without FRAMEQ_TOKENS_FILE: %v; want an error naming it", err)
	}
	p := mustLoad(t, append(env, "FRAMEQ_TOKENS_FILE="+tokensFile(t, "x")), nil, path)
	w := service(t, p, "worker")
	if len(w.Secrets) != 1 || w.HealthCheck == nil || w.Environment["FRAMEQ_TOKENS_FILE"] == nil {
		t.Errorf("worker: secrets %v, healthcheck %v, env %v", w.Secrets, w.HealthCheck, w.Environment)
	}
}
