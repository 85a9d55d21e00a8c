# syntax=docker/dockerfile:1
# The python template image plus a directory of wheels (offline pip: the pool sets
# PIP_FIND_LINKS=/opt/e2e-wheels and PIP_NO_INDEX=true). Built by apps/cluster-e2e/scripts/images.sh
# with the wheels of libs/testing's buildWheelDir as the build context.
ARG EXECUTOR_IMAGE=ghcr.io/executor-platform/executor-python:dev
FROM ${EXECUTOR_IMAGE}
COPY --chown=0:0 . /opt/e2e-wheels/
