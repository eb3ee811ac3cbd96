# syntax=docker/dockerfile:1
#
# The project's two images, for anyone with Docker (BuildKit) or another
# Dockerfile builder:
#
#   docker build --target aerolith          -t ghcr.io/aerolithdb/aerolith:v0.1.0 .
#   docker build --target aerolith-operator -t ghcr.io/aerolithdb/aerolith-operator:v0.1.0 .
#
# (make docker-images passes the version, revision and date from
# internal/release/release.mk and git; add --platform linux/amd64,linux/arm64
# with buildx for both architectures.) `make images` builds the same images
# without a container engine (tools/image, FROM scratch);
# tools/image's TestDockerfileAgrees keeps the two in step: the same
# entrypoints, user, ports, volume, environment, labels and -ldflags.

ARG GO_VERSION=1.26.8

# ---- build: static binaries, cross-compiled on the build machine's platform.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS src
WORKDIR /src
# The go.mod files first, so the module download is cached across source edits.
COPY go.mod go.sum ./
COPY third_party/raft/go.mod third_party/raft/go.sum third_party/raft/
COPY third_party/raft-wal/go.mod third_party/raft-wal/go.sum third_party/raft-wal/
COPY operator/go.mod operator/go.sum operator/
RUN --mount=type=cache,target=/go/pkg/mod go mod download && cd operator && go mod download
COPY . .

FROM src AS build-aerolith
ARG TARGETOS TARGETARCH TARGETVARIANT
ARG VERSION=v0.1.0
ARG REVISION=unknown
ARG REGISTRY=ghcr.io/aerolithdb
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOARM=${TARGETVARIANT#v} \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/aerolithdb/aerolith/internal/release.version=$VERSION -X github.com/aerolithdb/aerolith/internal/release.revision=$REVISION -X github.com/aerolithdb/aerolith/internal/release.registry=$REGISTRY" \
      -o /out/aerolith ./cmd/aerolith \
 && install -d -m 0750 /out/data

FROM src AS build-operator
ARG TARGETOS TARGETARCH TARGETVARIANT
ARG VERSION=v0.1.0
ARG REVISION=unknown
ARG REGISTRY=ghcr.io/aerolithdb
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    cd operator && CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOARM=${TARGETVARIANT#v} \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/aerolithdb/aerolith/internal/release.version=$VERSION -X github.com/aerolithdb/aerolith/internal/release.revision=$REVISION -X github.com/aerolithdb/aerolith/internal/release.registry=$REGISTRY" \
      -o /out/aerolith-operator ./cmd/aerolith-operator

# ---- the agent, billing service and CLI: the operator's StatefulSet runs
# it with the argument "agent" and mounts its data volume at /var/lib/aerolith.
# distroless/static:nonroot brings what tools/image's base layer holds: the
# user 65532, CA roots, /etc/nsswitch.conf and /tmp.
FROM gcr.io/distroless/static-debian12:nonroot AS aerolith
ARG VERSION=v0.1.0
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title="aerolith" \
      org.opencontainers.image.description="Aerolith node agent, billing service and CLI: a raft-replicated document database (aerolith agent, aerolith billing serve)" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.revision="$REVISION" \
      org.opencontainers.image.created="$CREATED" \
      org.opencontainers.image.source="https://github.com/aerolithdb/aerolith" \
      org.opencontainers.image.url="https://github.com/aerolithdb/aerolith"
COPY --from=build-aerolith /out/aerolith /usr/local/bin/aerolith
COPY --from=build-aerolith --chown=65532:65532 /out/data /var/lib/aerolith
ENV AEROLITH_DATA_DIR=/var/lib/aerolith
USER 65532
EXPOSE 7070/tcp 7071/tcp
VOLUME ["/var/lib/aerolith"]
ENTRYPOINT ["/usr/local/bin/aerolith"]
CMD ["agent"]

# ---- the operator: modules/kubernetes runs it with its flags as arguments.
FROM gcr.io/distroless/static-debian12:nonroot AS aerolith-operator
ARG VERSION=v0.1.0
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title="aerolith-operator" \
      org.opencontainers.image.description="Aerolith Kubernetes operator: reconciles AerolithCluster (aerolithdb.io/v1) resources" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.revision="$REVISION" \
      org.opencontainers.image.created="$CREATED" \
      org.opencontainers.image.source="https://github.com/aerolithdb/aerolith" \
      org.opencontainers.image.url="https://github.com/aerolithdb/aerolith"
COPY --from=build-operator /out/aerolith-operator /usr/local/bin/aerolith-operator
USER 65532
EXPOSE 8080/tcp 8081/tcp
ENTRYPOINT ["/usr/local/bin/aerolith-operator"]
