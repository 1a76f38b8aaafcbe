# Images of kube-multipath. `make docker-build` builds them (needs a container engine);
# `make images` builds the manager and agent images without one (hack/images), and
# hack/images/images_test.go keeps both equivalent: same entrypoint, user, binary and go build flags.
#   manager: distroless, non-root: it only talks to the API server.
#   agent:   static, runs as root: it validates candidates with the node's own `multipath -t`
#            (chrooted into the host root, in a mount namespace it makes itself, no shell) and
#            talks to the host's multipathd over its socket, so it ships no multipath-tools.

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

FROM gcr.io/distroless/static-debian12 AS agent
COPY --from=build /out/agent /agent
# uid 0: multipathd accepts `reconfigure` from root only (see docs/agent.md for every privilege).
USER 0:0
ENTRYPOINT ["/agent"]

FROM gcr.io/distroless/static-debian12:nonroot AS kubectl-multipath
COPY --from=build /out/kubectl-multipath /kubectl-multipath
USER 65532:65532
ENTRYPOINT ["/kubectl-multipath"]
