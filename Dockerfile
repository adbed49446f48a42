# Landcycle API server. PostGIS is a separate container (compose.yaml) or any PostGIS you point
# DATABASE_URL at. Migrations run at start; demo data only when LANDCYCLE_DEMO=1.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /srv/landcycle

COPY pyproject.toml constraints.txt README.md ./
COPY app ./app
COPY models ./models
COPY gis ./gis
COPY migrations ./migrations
COPY data ./data
COPY alembic.ini ./
# The web page and its front-end libraries, fetched from the npm registry at build time (integrity-checked).
COPY web ./web
COPY scripts/webvendor.py ./scripts/webvendor.py
RUN python scripts/webvendor.py \
 && pip install --no-cache-dir -c constraints.txt . && useradd --system --home /srv/landcycle landcycle
USER landcycle

ENV LANDCYCLE_HOST=0.0.0.0 LANDCYCLE_PORT=8000 LANDCYCLE_WORKERS=2
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["sh", "-c", "landcycle db upgrade && if [ \"$LANDCYCLE_DEMO\" = 1 ]; then landcycle demo load --if-empty; fi && exec landcycle serve"]
