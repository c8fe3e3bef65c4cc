# conductor-bot: the Slack bot for op-conductor sequencer clusters.
# Configure with env vars (SLACK_BOT_TOKEN, SLACK_APP_TOKEN or SLACK_SIGNING_SECRET, REDIS_URL) and a
# clusters file mounted at /config/clusters.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CONDUCTOR_BOT_CLUSTERS=/config/clusters.yml \
    CONDUCTOR_BOT_STATE_DIR=/var/lib/conductor-bot \
    CONDUCTOR_BOT_HTTP_PORT=3000

WORKDIR /app
COPY pyproject.toml ./
COPY bot ./bot
COPY alerts ./alerts
COPY commands ./commands
COPY chat ./chat
COPY cluster ./cluster
COPY store ./store
COPY sim ./sim
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home-dir /var/lib/conductor-bot --create-home conductor

USER 10001
EXPOSE 3000
# /healthz is liveness (the process serves); /readyz checks Redis, Slack and the watcher. Python
# avoids installing curl in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CONDUCTOR_BOT_HTTP_PORT', '3000'), timeout=4)"]
CMD ["conductor-bot", "run"]
