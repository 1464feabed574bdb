#!/usr/bin/env bash
# Redis instructions per task of one `enqueue manifest`, load-independent
# (docs/benchmarks.md, row 3): a private redis-server under
# valgrind --tool=callgrind takes N tasks of the bench's manifest (remote
# uploads, one token); an idle server's count over the same life is taken
# off. Needs valgrind and redis-server; takes about 1 minute per 10,000.
#
#   scripts/redis-instructions.sh path/to/enqueue [N (10000)] [port (7391)]
set -euo pipefail
bin=$1 n=${2:-10000} port=${3:-7391}
if [ "$port" = 6379 ]; then echo "not on 6379" >&2; exit 2; fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for ((i = 0; i < n; i++)); do
	printf '{"url":"https://media.example.com/shoot/clip-%07d.mov","parent_id":"root-folder","path":"clip-%07d.mov","size":1048576}\n' "$i" "$i"
done >"$dir/m.jsonl"

# instructions runs redis-server under callgrind while "$@" runs, and
# prints the instructions it executed.
instructions() {
	valgrind --tool=callgrind --callgrind-out-file="$dir/cg" redis-server --port "$port" \
		--save '' --appendonly no --dir "$dir" >/dev/null 2>"$dir/valgrind.log" &
	local vg=$!
	for _ in $(seq 150); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.2; done
	"$@" >/dev/null
	redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
	wait "$vg" || true
	awk '/^summary:/ {print $2}' "$dir/cg"
	rm -f "$dir/cg"
}
idle=$(instructions sleep 1)
busy=$(instructions env FRAMEQ_REDIS_URL="redis://127.0.0.1:$port/0" FRAMEQ_TOKEN=x "$bin" manifest "$dir/m.jsonl")
echo "$n tasks: $(((busy - idle) / n)) instructions per task (busy $busy, idle $idle)"
