# Dockerfile: one image for the four stages of an ocppgw pod; the container's command selects
# the stage (ws-edge, ocpp-core, kafka-bridge or redis-registry). See docs/deployment.md.
#
#   docker build -t ocppgw:dev .
#   docker run --rm ocppgw:dev ws-edge --help
#
# Both stages are Debian 12 (bookworm-slim): the build links against exactly the libraries
# the runtime stage installs. tests/integration/test_manifests.sh checks that the two package
# lists below still cover what the Makefile's pkg-config modules and the binaries need.

# --- build ----------------------------------------------------------------------------------
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc make libc6-dev pkg-config \
      libzmq3-dev libczmq-dev libwebsockets-dev libwebsockets-evlib-uv libuv1-dev \
      librdkafka-dev libhiredis-dev libmsgpack-dev libyaml-dev libjansson-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what `make all` reads: generated sources are committed, so no generator runs here.
COPY Makefile ./
COPY common/ common/
COPY services/ services/
COPY tools/ tools/
RUN make -j"$(nproc)" all

# --- runtime --------------------------------------------------------------------------------
FROM debian:bookworm-slim
# Runtime libraries only. libwebsockets-evlib-uv is the libuv event-loop plugin that
# libwebsockets loads at run time (ws-edge uses LWS_SERVER_OPTION_LIBUV); ldd does not show it.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libzmq5 libczmq4 libwebsockets17 libwebsockets-evlib-uv libuv1 librdkafka1 \
      libhiredis0.14 libmsgpackc2 libyaml-0-2 libjansson4 libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 ocppgw \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin ocppgw \
 && install -d -o 10001 -g 10001 -m 0770 /run/ocppgw
# The four stages of a pod. kafka-dev (the mock broker for development) is left out: it listens
# on 127.0.0.1 only and has no place in a deployment.
COPY --from=build /src/build/bin/ws-edge /src/build/bin/ocpp-core /src/build/bin/kafka-bridge \
     /src/build/bin/redis-registry /usr/local/bin/
# /run/ocppgw holds the pod's ipc:// sockets. Mount a shared volume there (compose: a named
# volume, which Docker seeds with this directory's owner 10001; Kubernetes: an emptyDir).
ENV OCPPGW_IPC_DIR=/run/ocppgw
USER 10001:10001
WORKDIR /
# 8080 WebSocket (ws-edge); 9101-9104 admin (/metrics /healthz /readyz) of edge, core, bridge,
# registry.
EXPOSE 8080 9101 9102 9103 9104
# No shell wrapper: the stage binary is the container's process 1 and receives SIGTERM itself.
CMD ["ws-edge"]
