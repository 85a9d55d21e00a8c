# syntax=docker/dockerfile:1
# Redis from Debian bookworm (redis-server 7.0, redis-cli): the dev overlay's Redis image, built by
# k8s/config/deployment/build-images.sh like every other image (no Docker Hub needed). The base
# manifests use the upstream redis image; either reads the same redis.conf (k8s/config/deployment/redis.yaml).
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
  && apt-get install -y --no-install-recommends redis-server redis-tools \
  && rm -rf /var/lib/apt/lists/* \
  && mkdir -p /data && chown 999:999 /data
WORKDIR /data
# uid/gid 999 = the StatefulSet's runAsUser (as in the upstream image); numeric for runAsNonRoot.
USER 999:999
EXPOSE 6379
CMD ["redis-server"]
