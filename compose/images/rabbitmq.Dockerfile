# RabbitMQ from Debian's package (3.10 on bookworm), for compose/.
# The official image (rabbitmq:3) serves as well; this one is what a machine
# without a registry can build (scripts/images).
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends rabbitmq-server \
 && rm -rf /var/lib/apt/lists/*
# guest/guest may connect from other containers: the broker is reachable
# only on the compose network (compose/README.md says what to change for
# anything else).
RUN printf 'loopback_users = none\nlisteners.tcp.default = 5672\n' > /etc/rabbitmq/rabbitmq.conf
ENV RABBITMQ_LOGS=- HOME=/var/lib/rabbitmq
USER rabbitmq
EXPOSE 5672
HEALTHCHECK --interval=2s --timeout=10s --start-period=60s CMD rabbitmq-diagnostics -q check_port_connectivity
CMD ["rabbitmq-server"]
