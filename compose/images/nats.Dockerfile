# NATS with JetStream from Debian's package (2.9 on bookworm), for compose/.
# The official image (nats:2) has no shell for a health check; this one has.
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nats-server curl \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data
EXPOSE 4222 8222
HEALTHCHECK --interval=1s --timeout=5s --start-period=30s CMD curl -fsS 'http://127.0.0.1:8222/healthz?js-enabled-only=true'
CMD ["nats-server", "-js", "-sd", "/data", "-p", "4222", "-m", "8222"]
