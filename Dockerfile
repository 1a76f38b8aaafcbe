# Images of kube-multipath. `make docker-build` builds them (needs a container engine).
#   manager: distroless, non-root: it only talks to the API server.
#   agent:   Debian with multipath-tools, for the real `multipath -t` parser that validates every
#            candidate config before it is written, and util-linux's unshare for the private
#            mount namespace it runs in. It talks to the host's multipathd over its socket.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags="-s -w" -o /out/manager ./cmd/manager \
 && go build -trimpath -ldflags="-s -w" -o /out/agent ./cmd/agent \
 && go build -trimpath -ldflags="-s -w" -o /out/kubectl-multipath ./cmd/kubectl-multipath

FROM gcr.io/distroless/static-debian12:nonroot AS manager
COPY --from=build /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]

FROM debian:bookworm-slim AS agent
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends multipath-tools util-linux \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/agent /agent
ENTRYPOINT ["/agent"]

FROM gcr.io/distroless/static-debian12:nonroot AS kubectl-multipath
COPY --from=build /out/kubectl-multipath /kubectl-multipath
USER 65532:65532
ENTRYPOINT ["/kubectl-multipath"]
