# syntax=docker/dockerfile:1
# SciPass API image: migrates the database, then serves on port 8000 as a non-root user.
# Installs exactly like `make`: the pinned set in constraints.txt.

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml constraints.txt README.md ./
COPY backend ./backend
RUN /opt/venv/bin/pip install -c constraints.txt .

# The console's browser libraries, as `make run` installs them (npm ci, nothing built).
FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SCIPASS_ENV=prod \
    SCIPASS_CONSOLE_VENDOR_DIR=/app/node_modules
# A Chinese TrueType font for the PDF record file (科技实践档案; reportlab embeds a subset).
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-droid-fallback=1:6.0.1r16-1.1 \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 scipass \
 && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /app scipass
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=assets /src/node_modules ./node_modules
COPY alembic.ini ./
COPY alembic ./alembic
RUN mkdir -p /app/var/uploads && chown -R scipass:scipass /app/var
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["sh", "-c", "scipass migrate && exec scipass serve --host 0.0.0.0 --port 8000"]
