# One image with every frameq binary: worker, enqueue, frameio-sim.
# .dockerignore keeps .git out of the context, so --version shows the module
# version without a commit.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/ ./cmd/worker ./cmd/enqueue ./cmd/frameio-sim

# No shell, no curl: compose's health check runs `worker healthcheck`.
# Everything runs as nonroot (uid/gid 65532): the mounted media and the
# tokens secret must be readable by it.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER nonroot
ENTRYPOINT ["/usr/local/bin/worker"]
