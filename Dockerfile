# dondoc: the Telegram bot, in one small image.
# Build: docker build -t dondoc .   Run: see docker-compose.yml (PostgreSQL) or
#   docker run -e TELEGRAM_BOT_TOKEN=… -v dondoc-data:/data dondoc   (SQLite on the volume)
# Admin commands: docker compose exec bot python -m bot …   (see the README)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system dondoc \
    && useradd --system --gid dondoc --no-create-home --shell /usr/sbin/nologin dondoc

# Installed as a regular (non-editable) package; the sources are not kept, so
# nothing in the image shadows site-packages. Migrations ship as package data.
COPY . /src
RUN pip install /src && rm -rf /src

RUN mkdir -p /data/evidence && chown -R dondoc:dondoc /data
ENV DATABASE_URL=sqlite+aiosqlite:////data/dondoc.db \
    EVIDENCE_DIR=/data/evidence
VOLUME /data
WORKDIR /data

# matplotlib (the weekly chart) needs a config and cache folder it may write; the
# dondoc user has no home. Its font cache is built here once, not on every start.
ENV MPLCONFIGDIR=/var/cache/matplotlib
RUN mkdir -p "$MPLCONFIGDIR" && python -c "import matplotlib.font_manager" \
    && chown -R dondoc:dondoc "$MPLCONFIGDIR"

# The web server (PUBLIC_BASE_URL set: dashboard, signed links, webhooks) listens on PORT, 8080 by default.
EXPOSE 8080

USER dondoc
# The bot migrates the database itself before it starts polling.
CMD ["python", "-m", "bot", "run"]
