# Konsil: one image for every role (web, worker lanes, clock). Build: docker build -t konsil .
# Everything the app serves is in the image (static files collected at build time); nothing is fetched at run time.
FROM python:3.11-slim-bookworm AS base

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    KONSIL_HOME=/var/lib/konsil DJANGO_SETTINGS_MODULE=konsil.settings

# WeasyPrint (PDF reports) needs Pango; CJK fonts for Japanese reports; dcmtk for the DICOM tools;
# postgresql-client for `konsil backup` / `konsil restore` on PostgreSQL.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libffi8 fonts-noto-cjk fonts-dejavu-core \
      dcmtk postgresql-client tini \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --system --uid 10001 --home-dir /var/lib/konsil --create-home konsil
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-compile ".[scale]" \
 && KONSIL_SECRET_KEY=build KONSIL_MASTER_KEYS=k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    KONSIL_AUDIT_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= KONSIL_HOME=/tmp/build \
    konsil manage collectstatic --noinput -v0 \
 && mkdir -p /var/lib/konsil/static && cp -r /tmp/build/static/. /var/lib/konsil/static/ && rm -rf /tmp/build \
 && chown -R konsil:konsil /var/lib/konsil

USER konsil
EXPOSE 8000
ENTRYPOINT ["/usr/bin/tini", "--"]
# web by default; the compose file runs the other roles from the same image
CMD ["gunicorn", "konsil.wsgi:application", "--bind", "0.0.0.0:8000", "--worker-class", "gthread", \
     "--workers", "2", "--threads", "4", "--access-logfile", "-", "--forwarded-allow-ips", "*"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"
