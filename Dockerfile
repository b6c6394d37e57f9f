# The worker process (`python -m workers`); the same image runs the codec server, the
# `dossiers` CLI and the one-shot setup (`python -m scripts.cluster_setup`). Temporal and
# PostgreSQL come from docker-compose.yml; TEMPORAL_ADDRESS and DATABASE_URL say where.
# Only the runtime lock goes in: no Temporal dev server, no embedded PostgreSQL, no dev tools.

FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Every dependency at its locked version, each file checked against its hash, into a venv
# without pip or setuptools of its own: it holds what runs and nothing else.
WORKDIR /src
COPY requirements/runtime.txt requirements/build.txt requirements/
RUN python -m venv --without-pip /opt/venv \
    && pip --python /opt/venv/bin/python install --require-hashes --no-deps \
        -r requirements/runtime.txt

# The build backend, locked too, in a venv of its own that stays in this stage.
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes --no-deps -r requirements/build.txt

# Then the project alone, without its dependencies (they are all in already): what
# production runs and the samples the demo submits; never the tools nor the tests.
COPY pyproject.toml README.md ./
COPY models models
COPY workflows workflows
COPY activities activities
COPY workers workers
COPY scripts scripts
COPY examples examples
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir wheels . \
    && pip --python /opt/venv/bin/python install --no-deps wheels/*.whl \
    && pip --python /opt/venv/bin/python check


FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DATA_DIR=/var/lib/integration-visa \
    REPORTS_DIR=/var/lib/integration-visa/reports

COPY --from=build /opt/venv /opt/venv

RUN groupadd --system --gid 10001 worker \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /var/lib/integration-visa --shell /usr/sbin/nologin worker \
    && mkdir -p /var/lib/integration-visa/reports \
    && chown -R worker:worker /var/lib/integration-visa

# The weekly reports (REPORTS_DIR) outlive the container.
VOLUME /var/lib/integration-visa
WORKDIR /var/lib/integration-visa
USER worker
# SIGTERM drains in-flight tasks (up to 10 s) and exits 0.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "workers"]
