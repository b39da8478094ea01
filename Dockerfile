# tombsync container image: build on Debian 12, run on Debian 12 slim as user 10001.
#
#   docker build -t tombsync:0.1.0 .
#   docker run --rm -v "$PWD/tombsync.yaml:/etc/tombsync/tombsync.yaml:ro" \
#     -v tombsync-state:/var/lib/tombsync -e TOMBSYNC_PG_PASSWORD=... tombsync:0.1.0
#
# The runtime stage has the binary and the Debian packages of the shared libraries it links
# (readelf -d: NEEDED), nothing else. RocksDB is linked statically (Debian's RocksDB CMake
# target is librocksdb.a), so librocksdb7.8 is not needed, but its compression libraries are.
# scripts/test-chart checks this list against the NEEDED entries of a built binary.

# ---------------------------------------------------------------- build
FROM debian:12 AS build
# The build packages of scripts/install-deps, without the test services. Not pinned to
# versions (DL3008): Debian 12 only takes fixes within a release, and a pin would break the
# build at its next point release.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libpq-dev libssl-dev librdkafka-dev librocksdb-dev libprotobuf-dev protobuf-compiler \
      libyaml-cpp-dev nlohmann-json3-dev libfmt-dev libjemalloc-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# .dockerignore lets in only what the build reads: CMakeLists.txt and the source directories.
COPY . .
# BUILD_JOBS: parallel compile jobs ("" = ninja's default, one per core).
ARG BUILD_JOBS=""
RUN cmake -S . -B build -G Ninja -DTOMBSYNC_TESTS=OFF -DCMAKE_BUILD_TYPE=Release \
 && cmake --build build --target tombsync ${BUILD_JOBS:+-j "$BUILD_JOBS"} \
 && strip --strip-unneeded build/agent/tombsync \
 && build/agent/tombsync version

# ---------------------------------------------------------------- runtime
FROM debian:12-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="tombsync" \
      org.opencontainers.image.description="PostgreSQL logical replication to Kafka, hard deletes included" \
      org.opencontainers.image.version="${VERSION}"
# Runtime libraries of the binary, one package per NEEDED library (libc6 is in the base image).
# ca-certificates: the system CA bundle, for Kafka (security.protocol SSL/SASL_SSL) and
# Postgres (sslmode=verify-full) over TLS. Not pinned to versions (DL3008), as above.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libpq5 libssl3 librdkafka1 libprotobuf32 libyaml-cpp0.7 libfmt9 libjemalloc2 \
      libsnappy1v5 zlib1g libbz2-1.0 liblz4-1 libzstd1 libstdc++6 libgcc-s1 \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 tombsync \
 && useradd --uid 10001 --gid 10001 --home-dir /var/lib/tombsync --no-create-home \
      --shell /usr/sbin/nologin tombsync \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/tombsync \
 && install -d -m 0755 /etc/tombsync
COPY --from=build /src/build/agent/tombsync /usr/local/bin/tombsync
# Fails the build when a library is missing from the list above.
RUN ldd /usr/local/bin/tombsync >/tmp/ldd.txt && ! grep 'not found' /tmp/ldd.txt \
 && rm /tmp/ldd.txt && tombsync version
USER 10001:10001
WORKDIR /var/lib/tombsync
# The RocksDB cursor store (config key state_dir): keep it on a volume that outlives the
# container. tombsync resumes from this cursor and checks the slot and the source against it.
VOLUME /var/lib/tombsync
# The config is not in the image: mount it at /etc/tombsync/tombsync.yaml (the Helm chart
# mounts a ConfigMap there). tombsync stops cleanly on SIGTERM, in under 15 s.
ENTRYPOINT ["tombsync"]
CMD ["run", "--config", "/etc/tombsync/tombsync.yaml"]
