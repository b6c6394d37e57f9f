# The worker process (`python -m workers`). Temporal and PostgreSQL come from
# docker-compose.yml; TEMPORAL_ADDRESS and DATABASE_URL say where.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY . .
RUN pip install . \
    && useradd --system --no-create-home worker

USER worker
# SIGTERM drains in-flight tasks (up to 10 s) and exits 0.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "workers"]
