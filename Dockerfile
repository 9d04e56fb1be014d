# syntax=docker/dockerfile:1
# Build: resolve and install the locked dependencies and the project into /app/.venv.
FROM python:3.11-slim AS build
RUN pip install --no-cache-dir uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY src ./src
RUN uv sync --locked --no-dev --no-editable

# Run: only the virtualenv, as an unprivileged user.
FROM python:3.11-slim AS run
RUN useradd --system --uid 10001 --home-dir /var/lib/jobcloud --create-home jobcloud
COPY --from=build /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    JOBCLOUD_DATA_DIR=/var/lib/jobcloud
USER jobcloud
WORKDIR /var/lib/jobcloud
EXPOSE 8001 8000
HEALTHCHECK --interval=30s --timeout=3s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8001/health')"
CMD ["jobcloud", "serve", "--host", "0.0.0.0", "--port", "8001"]
