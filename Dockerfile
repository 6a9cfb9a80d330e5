# syntax=docker/dockerfile:1.7
#
# One Dockerfile for every Hisaab image. All six services share the runtime kit
# (libs/), the generated code (gen/) and the dependency set, so one file keeps
# one build cache, one hardened base and one place to patch.
#
#   docker build --build-arg SERVICE=auth -t hisaab-auth .          (default target)
#   docker build --target migrate -t hisaab-migrate .
#   docker build --target envoy   -t hisaab-envoy .
#
# Runtime images run as uid 10001 and write nothing outside /tmp, so the pods
# can use readOnlyRootFilesystem with an emptyDir at /tmp.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm
ARG ENVOY_IMAGE=envoyproxy/envoy:distroless-v1.40.0

# --- deps: runtime dependencies from pyproject.toml into /opt/venv -----------
FROM ${PYTHON_IMAGE} AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Only pyproject.toml first: the dependency layer is rebuilt only when it changes.
COPY pyproject.toml ./
RUN pip install --upgrade pip && pip install .

# --- codegen: protos -> gen/ with the pinned code generators -----------------
FROM deps AS codegen
# The generator versions come from the dev extra in pyproject.toml so the image
# and `make gen` produce the same code.
RUN python - <<'PY' > /tmp/codegen-reqs.txt
import tomllib
dev = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["dev"]
print("\n".join(r for r in dev if r.startswith(("grpcio-tools", "mypy-protobuf"))))
PY
RUN pip install -r /tmp/codegen-reqs.txt
COPY tools/ tools/
COPY protos/ protos/
RUN python -m tools.codegen

# --- runtime base: shared by every Python image ------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app:/app/gen \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp
# OpenCV (under the receipt scan worker's OCR) links libGL and GLib, which slim lacks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 hisaab \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --shell /usr/sbin/nologin hisaab
WORKDIR /app
COPY --from=deps /opt/venv /opt/venv
COPY --from=codegen /src/gen/ gen/
COPY libs/ libs/

# --- migrate: the Alembic job run by the Helm pre-install/pre-upgrade hook ---
FROM runtime AS migrate
# Every service owns its tables, so the job needs every service's migrations.
COPY services/ services/
RUN python -m compileall -q /app
USER 10001:10001
ENTRYPOINT ["python", "-m", "libs.db.migrate"]

# --- envoy: the gateway; config and descriptor are mounted from a ConfigMap ---
FROM ${ENVOY_IMAGE} AS envoy
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/envoy"]
CMD ["--config-path", "/etc/envoy/envoy.yaml", "--log-format", "%Y-%m-%dT%T.%eZ %l [%n] %v"]

# --- service (default): one gRPC service chosen by SERVICE --------------------
FROM runtime AS service
ARG SERVICE
RUN test -n "${SERVICE}" || (echo "build with --build-arg SERVICE=<name>" >&2; exit 1)
COPY services/__init__.py services/
COPY services/${SERVICE}/ services/${SERVICE}/
# Bytecode is compiled at build time because the root filesystem is read-only.
RUN python -m compileall -q /app
ENV HISAAB_SERVICE=${SERVICE}
USER 10001:10001
# exec replaces the shell, so SIGTERM reaches Python for the graceful drain.
ENTRYPOINT ["sh", "-c", "exec python -m \"services.${HISAAB_SERVICE}\" \"$@\"", "--"]
