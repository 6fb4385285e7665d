# c360 API image. Build: docker build -t c360 .   Run: see docker-compose.yml.

# --- build stage: install the package and its pinned dependencies into a venv ---
FROM python:3.11-slim AS build

# No pip cache keeps the layer small.
ENV PIP_NO_CACHE_DIR=1

WORKDIR /src
COPY . .
# The runtime install that `make test` checks (tests/test_install.py runs the same script):
# a self-contained venv with the exact, tested versions of constraints.txt, no dev extras.
RUN sh tools/install-runtime.sh /opt/venv .

# --- runtime stage: the venv only, no sources or build leftovers ---
FROM python:3.11-slim

ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    C360_LOG_FORMAT=json

# Run as an unprivileged user. Without C360_MONGODB_URI the embedded store keeps its files
# in the user's data directory, /app/.local/share/c360 (C360_DATA_DIR overrides).
RUN useradd --create-home --home-dir /app --uid 10001 c360
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
USER c360

EXPOSE 8000

# slim has no curl: use the standard library. /health answers 503 (urlopen raises)
# while the store is unreachable, so the container reports unhealthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

# Exec form: c360 is PID 1 and receives SIGTERM directly for a clean shutdown.
CMD ["c360", "serve", "--host", "0.0.0.0", "--port", "8000"]
