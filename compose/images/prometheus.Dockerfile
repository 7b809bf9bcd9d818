# Prometheus from Debian's package (2.42 on bookworm), for compose/'s
# metrics.yaml. Its configuration is mounted from compose/prometheus.yml.
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus curl \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /prometheus
EXPOSE 9090
HEALTHCHECK --interval=2s --timeout=5s --start-period=30s CMD curl -fsS http://127.0.0.1:9090/-/ready
CMD ["prometheus", "--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--web.listen-address=0.0.0.0:9090"]
