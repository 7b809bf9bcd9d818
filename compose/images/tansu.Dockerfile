# tansu 0.6.0, a Kafka-compatible broker, in memory, for compose/.
# Built from crates.io in the Rust image (about 20 minutes on two cores);
# with PREBUILT=FILE, the binary FILE of the build context is taken instead
# (scripts/images gives it the one scripts/setup.sh built on the host).
ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${RUST_IMAGE} AS build
LABEL dev.funcmesh.stage=build
ARG PREBUILT=
COPY . /context
RUN if [ -n "$PREBUILT" ]; then install -D "/context/$PREBUILT" /out/tansu; \
    else cargo install tansu --version 0.6.0 --locked --features dynostore --root /opt/tansu \
      && install -D /opt/tansu/bin/tansu /out/tansu; fi

FROM ${DEBIAN_IMAGE}
COPY --from=build /out/tansu /usr/local/bin/tansu
EXPOSE 9092
# tansu has no health endpoint: the check is that it accepts connections.
HEALTHCHECK --interval=1s --timeout=5s --start-period=30s CMD bash -c 'exec 3<>/dev/tcp/127.0.0.1/9092'
ENTRYPOINT ["tansu", "broker", "--listener-url", "tcp://0.0.0.0:9092", "--storage-engine", "memory://tansu/"]
CMD ["--advertised-listener-url", "tcp://broker:9092"]
