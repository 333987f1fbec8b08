# syntax=docker/dockerfile:1
# tunebot: one image for both halves. `tunebot serve` runs the bot and the job service together;
# the Helm chart runs them apart with `--role bot` and `--role service`.
#
#   docker build -t tunebot .
#   docker run --rm -p 8080:8080 --env-file .env tunebot

# Both stages must use the same base: the venv copied below points at this image's interpreter.
ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: build tunebot's wheel and install it with its dependencies into /opt/venv ----------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
RUN python -m venv /opt/venv

# Every runtime dependency ships manylinux wheels for 3.11 (psycopg[binary] bundles libpq), so the
# builder needs no compiler. Only what the wheel is built from is copied (see .dockerignore).
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY services ./services
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/venv/bin/pip install /wheels/tunebot-*.whl

# --- runtime: the venv, a non-root user, nothing else ----------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="tunebot" \
      org.opencontainers.image.description="Fine-tune Meta Llama 3.2 Vision on Amazon Bedrock from Slack"

# A fixed numeric UID/GID so Kubernetes' runAsNonRoot can verify it (the Helm chart uses 10001 too).
RUN groupadd --system --gid 10001 tunebot \
    && useradd --system --uid 10001 --gid tunebot --home-dir /var/lib/tunebot \
       --shell /usr/sbin/nologin tunebot \
    && install -d -o tunebot -g tunebot -m 0750 /var/lib/tunebot /var/lib/tunebot/data

COPY --from=builder /opt/venv /opt/venv

# - The working directory is the user's, so the embedded default (SQLite at ./tunebot.db) works under
#   plain `docker run`; in Kubernetes the root filesystem is read-only and /tmp and the data
#   directory are emptyDir volumes.
# - matplotlib writes a font cache: keep it under /tmp, which is writable in both cases.
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/var/lib/tunebot \
    MPLCONFIGDIR=/tmp/matplotlib \
    TUNEBOT_DATA_DIR=/var/lib/tunebot/data

WORKDIR /var/lib/tunebot
USER 10001:10001

EXPOSE 8080

# The slim image has no curl: ask the interpreter. urlopen raises on anything but 2xx, so the exit
# status is non-zero when /healthz does not answer 200.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

# uvicorn, as PID 1, turns SIGTERM into a graceful shutdown (in-flight work finished or released).
ENTRYPOINT ["tunebot"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
