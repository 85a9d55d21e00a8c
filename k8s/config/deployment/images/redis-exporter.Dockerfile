# syntax=docker/dockerfile:1
# The Prometheus Redis exporter from Debian bookworm (prometheus-redis-exporter): the dev overlay's
# stand-in for the upstream oliver006/redis_exporter image; same binary, same REDIS_ADDR /
# REDIS_PASSWORD environment, metrics on 9121.
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
  && apt-get install -y --no-install-recommends prometheus-redis-exporter \
  && rm -rf /var/lib/apt/lists/*
USER 59000:59000
EXPOSE 9121
ENTRYPOINT ["/usr/bin/prometheus-redis-exporter"]
