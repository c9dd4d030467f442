# syntax=docker/dockerfile:1
# modelmesh-healthd: see docs/operations.md, "Run it in a container".
#
#   docker build -t modelmesh-healthd .
#   docker run -d --name modelmesh-healthd \
#     -v modelmesh-healthd-state:/var/lib/modelmesh-healthd \
#     -v "$PWD/config.yaml:/etc/modelmesh-healthd/config.yaml:ro" \
#     --env-file ./modelmesh-healthd.env \
#     modelmesh-healthd

ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# --- build: the project's wheel, then an environment with it and its dependencies -----------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY config ./config
COPY src ./src
# What gets installed is exactly the wheel that would be published (demo config included).
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /dist .
# Installed by file name (exactly that wheel), with the redis and postgres extras so that
# every store URL works from the same image; dependencies within pyproject.toml's ranges.
RUN set -- /dist/modelmesh_healthd-*.whl \
    && python -m venv /opt/modelmesh-healthd \
    && /opt/modelmesh-healthd/bin/python -m pip install --no-cache-dir "$1[redis,postgres]"

# --- runtime: no compiler, no pip cache, not root ------------------------------------------
FROM ${PYTHON_IMAGE}
# tini as PID 1: forwards SIGTERM/SIGHUP to the daemon and reaps zombies. Debian's security
# updates are wanted here, so the package is not pinned to a version.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin healthd \
    && install -d -o healthd -g healthd -m 0700 /var/lib/modelmesh-healthd \
    && install -d -m 0755 /etc/modelmesh-healthd
COPY --from=build /opt/modelmesh-healthd /opt/modelmesh-healthd

ENV PATH=/opt/modelmesh-healthd/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MODELMESH_HEALTHD_CONFIG=/etc/modelmesh-healthd/config.yaml \
    STATE_DIRECTORY=/var/lib/modelmesh-healthd

# The state (SQLite by default) and the heartbeat file live here.
VOLUME ["/var/lib/modelmesh-healthd"]
WORKDIR /var/lib/modelmesh-healthd
USER 10001:10001

# The admin endpoint (/livez, /readyz, /metrics). It listens on 127.0.0.1 unless the config
# says `admin: {listen: "0.0.0.0:9464"}`; the HEALTHCHECK runs inside and needs neither.
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["modelmesh-healthd", "health", "--timeout", "5"]

ENTRYPOINT ["tini", "--", "modelmesh-healthd"]
CMD ["run"]
