# The funcmesh image: one binary, every component (`funcmesh tron`,
# `gateway`, `runner`, `dev`, ...), chosen by the container's command.
#
#   docker build -t funcmesh .                               # runtime (default)
#   docker build --target toolchain -t funcmesh:toolchain .  # + Rust, for Rust bundles
#
# `runtime` serves bundles that are already built (a `.wasm` module, or
# Python). `toolchain` adds Rust 1.95 with the wasm32-wasip1 target, for a
# tron that builds Rust bundle crates itself, as compose/ does on save.
#
# The base images are build arguments: the official Rust and Debian images
# by default; scripts/images makes local ones where no registry can be
# reached, and passes PREBUILT (a binary in the build context) instead of
# compiling in the image.
ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
# Marks this stage's image, which only the final stages copy from, so that
# it can be pruned once it is left untagged.
LABEL dev.funcmesh.stage=build
ARG PREBUILT=
# The commit `funcmesh --version` names (the context holds no .git):
# docker build --build-arg FUNCMESH_GIT_COMMIT=$(git rev-parse --short=12 HEAD) .
ARG FUNCMESH_GIT_COMMIT=unknown
WORKDIR /src
COPY . .
# pyo3 links the libpython of Debian's python3-dev (CPython 3.11); the
# Kafka client builds its C library with make and g++.
RUN if [ -n "$PREBUILT" ]; then install -D "$PREBUILT" /out/funcmesh; else \
      apt-get update -q \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-dev make g++ zlib1g-dev \
      && cargo build --release --locked --bin funcmesh \
      && install -D target/release/funcmesh /out/funcmesh; \
    fi

# The Rust toolchain image with funcmesh: builds Rust bundles to
# wasm32-wasip1 (cargo's registry cache and build directory live under
# /var/lib/funcmesh, a volume in compose/).
FROM ${RUST_IMAGE} AS toolchain
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libpython3.11 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add wasm32-wasip1 \
 && useradd --system --uid 10001 --home-dir /var/lib/funcmesh --create-home funcmesh
ENV CARGO_HOME=/var/lib/funcmesh/cargo FUNCMESH_CARGO_TARGET_DIR=/var/lib/funcmesh/build \
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Where compose/ keeps the mesh token (a volume takes this directory's owner).
RUN install -d -o funcmesh -g funcmesh -m 0700 /run/funcmesh
COPY --from=build /out/funcmesh /usr/local/bin/funcmesh
USER funcmesh
WORKDIR /var/lib/funcmesh
ENTRYPOINT ["funcmesh"]
CMD ["--help"]

# The runtime image: Debian with the libpython the binary links (Debian's
# libpython3.11 and its standard library: the binary's run path names the
# CPython it was built with, and where that is absent the loader takes the
# system's library of the same ABI) and curl for health checks.
FROM ${DEBIAN_IMAGE} AS runtime
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libpython3.11 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/funcmesh --create-home funcmesh
RUN install -d -o funcmesh -g funcmesh -m 0700 /run/funcmesh
COPY --from=build /out/funcmesh /usr/local/bin/funcmesh
USER funcmesh
WORKDIR /var/lib/funcmesh
ENTRYPOINT ["funcmesh"]
CMD ["--help"]
