# c360 API image. Build: docker build -t c360 .   Run: see docker-compose.yml.

# --- build stage: install the package and its pinned dependencies into a venv ---
FROM python:3.11-slim AS build

# No pip or uv cache keeps the layer small.
ENV PIP_NO_CACHE_DIR=1 \
    UV_NO_CACHE=1

WORKDIR /src
COPY . .
# The runtime install that `make test` checks (tests/test_install.py runs the same script):
# a self-contained venv with the exact, tested versions of constraints.txt, no dev extras,
# installed with the pinned uv (which stays in this stage).
RUN pip install --quiet -c constraints.txt uv \
    && sh tools/install-runtime.sh /opt/venv .

# --- runtime stage: the venv only, no sources or build leftovers ---
FROM python:3.11-slim

ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    C360_LOG_FORMAT=json \
    C360_DATA_DIR=/var/lib/c360 \
    C360_HOST=0.0.0.0 \
    C360_PORT=8000

# Run as an unprivileged user. The data directory holds the secrets c360 generates when
# C360_SIGNING_SECRET and C360_PRIVACY_SECRET are unset (changing the privacy secret forgets
# every suppression and tombstone) and, without C360_MONGODB_URI, the embedded store: mount a
# volume there (the compose files do). Made here, owned by the user, so that a named volume
# mounted on it starts with that owner.
RUN useradd --create-home --home-dir /app --uid 10001 c360 \
    && mkdir -p /var/lib/c360 && chown c360:c360 /var/lib/c360
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
USER c360

EXPOSE 8000

# slim has no curl: use the standard library. /health answers 503 (urlopen raises)
# while the store is unreachable, so the container reports unhealthy. It asks the port
# c360 listens on, C360_PORT (which a container may set otherwise).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ['C360_PORT'], timeout=4)"]

# Exec form: c360 is PID 1 and receives SIGTERM directly for a clean shutdown. Where it
# listens is C360_HOST and C360_PORT, set above.
CMD ["c360", "serve"]
