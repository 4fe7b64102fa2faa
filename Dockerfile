# syntax=docker/dockerfile:1
# One image for every Python component of DNS Chaos Lab: the AWS-like services, the
# bootstrap Job, the OutageScenario operator and Locust (master and workers). They are
# one Python distribution (pyproject.toml) with one locked dependency set, so one image
# means one build, one `kind load`, and the same code everywhere; the chart picks the
# entry point with `args:` (see charts/README.md, "Images"):
#   python -m chaoslab_services serve|bootstrap ...   (services, bootstrap Job)
#   chaoslab operator run ...                          (operator)
#   locust -f <chaoslab_loadtest/locustfile.py> ...    (Locust master / workers)
# Build: charts/build-images.sh (or: docker build -t chaoslab/lab:dev .)

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: a virtualenv with the lab and its pinned dependencies ----------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# dumb-init (a PyPI wheel with the static init binary) is PID 1 in the container: it
# forwards SIGTERM to the Python process, which as PID 1 would ignore it.
RUN pip install --no-cache-dir dumb-init==1.2.5.post1
COPY pyproject.toml README.md ./
COPY lab/ lab/
COPY dns/ dns/
COPY operator/ operator/
COPY services/ services/
COPY loadtest/ loadtest/
COPY report/ report/
# Non-editable install into the venv; the chart's locust.locustfile points at the
# installed locustfile, so the build (not the pod) fails if that path ever moves.
RUN pip install --no-cache-dir . \
 && test -f /opt/venv/lib/python3.11/site-packages/chaoslab_loadtest/locustfile.py \
 && chaoslab --help >/dev/null \
 && python -m chaoslab_services --help >/dev/null

# ---- runtime ----------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="chaoslab" \
      org.opencontainers.image.description="DNS Chaos Lab: services, operator, Locust" \
      org.opencontainers.image.source="charts/README.md"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib
RUN groupadd --system --gid 10001 chaoslab \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin chaoslab
COPY --from=build /opt/venv /opt/venv
WORKDIR /tmp
USER 10001:10001
EXPOSE 50051 8080 8089 5557
ENTRYPOINT ["/opt/venv/bin/dumb-init", "--"]
CMD ["chaoslab", "--help"]
