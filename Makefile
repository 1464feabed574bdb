# The README's commands. Each target is a thin alias, so nothing here is
# required: the commands under each target work on their own.
.PHONY: demo test build bench

# The main job: a local bulk upload on embedded defaults (no Redis needed).
demo:
	go run ./cmd/frameq-demo

# The whole test suite, against private redis-server processes.
test:
	./scripts/test

# Every binary into bin/.
build:
	go build -o bin/ ./cmd/...

# Every benchmark row in one table (several minutes; -quick: about two).
bench:
	go run ./cmd/frameq-bench
