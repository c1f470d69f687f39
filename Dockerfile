# syntax=docker/dockerfile:1
#
# Multi-instance Discord bot: one image, four containers (INSTANCE_ID 1..4).
# Built and started by deploy-multi.sh / deploy-multi.bat through docker-compose.multi.yml.
#
#   docker build -t discord-multi-bot:latest .
#
# No secret is baked in: tokens and API keys reach the container only at run time
# (env_file: .env.multi in the compose file). .dockerignore keeps every .env* file out
# of the build context.

# Exact patch version of the base image; bump it deliberately (both stages use it).
ARG PYTHON_IMAGE=python:3.11.17-slim-bookworm

# ---------------------------------------------------------------------------
# Stage 1: build wheels for the project and all its dependencies.
# Compilers live here only; the runtime stage never sees them.
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# A C toolchain, in case a dependency has no prebuilt wheel for this platform
# (e.g. a new CPU architecture). Debian package versions follow the pinned base image.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .
# The pip cache is a BuildKit cache mount: rebuilding after a code change does not
# download the dependencies again, and the cache is not part of any layer.
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --wheel-dir /wheels .

# ---------------------------------------------------------------------------
# Stage 2: runtime. Python + the installed wheels, no compilers, non-root user.
# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# UID/GID of the bot user. deploy-multi.sh passes the operator's own UID so that the
# bind-mounted ./logs/bot-N folders are writable by the bot and readable by the operator.
ARG APP_UID=1000
ARG APP_GID=1000

LABEL org.opencontainers.image.title="discord-multi-bot" \
      org.opencontainers.image.description="Korean Discord AI bot, one of four cooperating instances (INSTANCE_ID 1..4)"

# Container defaults; .env.multi (env_file) overrides any of them. REDIS_URL points at the
# compose service "redis" (the bot's own default, 127.0.0.1, is for running outside Docker).
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    LOG_FORMAT=json \
    LOG_DIR=/app/logs \
    HEALTH_FILE=/tmp/bot-health.json \
    REDIS_URL=redis://redis:6379/0

# Install the wheels built above straight from the builder stage (bind mount): the
# wheel files themselves never become a layer of this image. Bytecode is compiled here,
# once, so that start-up and every `bot health` probe skip compiling (the bot user could
# not write .pyc files into site-packages anyway).
RUN --mount=type=bind,from=builder,source=/wheels,target=/tmp/wheels \
    pip install --no-index /tmp/wheels/*.whl

# --non-unique: an operator's UID/GID may already name a system account in Debian.
RUN groupadd --system --non-unique --gid "${APP_GID}" bot \
    && useradd --system --non-unique --uid "${APP_UID}" --gid bot --home-dir /app --shell /usr/sbin/nologin bot \
    && mkdir -p /app/logs \
    && chown -R bot:bot /app

WORKDIR /app
USER ${APP_UID}:${APP_GID}

# Healthy = this instance is alive and connected to the gateway (the running bot
# refreshes HEALTH_FILE every few seconds; `bot health` reads it).
# --start-interval needs Docker Engine 25+; older engines fall back to --interval.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --start-interval=2s --retries=3 \
    CMD ["python", "-m", "bot", "health"]

# No ENTRYPOINT on purpose: `docker compose run bot-1 python -m bot check-config`
# must be able to replace the command.
CMD ["python", "-m", "bot", "run"]
