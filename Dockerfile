# tailor's one image for its three process roles (docs/deploy.md):
#   docker run IMAGE serve | stream | train --config FILE | any other tailor command
#
# docker build -t tailor .                 # python:3.11-slim, wheels from the package index
# podman build --build-arg BASE=localhost/tailor-python:3.11-bookworm ...   # no registry:
#   scripts/build_image.sh stages a context with a wheelhouse and builds on Debian's Python
#
# BASE must provide python3 (3.11) with the venv module; all three stages use it, so the venv
# built in the second stage runs unchanged in the third.
ARG BASE=python:3.11-slim
# checkov:skip=CKV_DOCKER_7:the FROM lines name ${BASE}, a versioned tag (python:3.11-slim) unless overridden

# --- 1. every wheel the image installs: a wheelhouse in the context (wheelhouse/deps, the
# dependencies; wheelhouse/app, tailor's own wheel) when there is one, else built from the index
# with requirements/lock.txt as constraints
FROM ${BASE} AS wheels
ARG EXTRAS=serve,stream,train
SHELL ["/bin/sh", "-eu", "-c"]
WORKDIR /src
COPY . .
RUN if [ -d wheelhouse/deps ] && [ -d wheelhouse/app ]; then \
        mv wheelhouse /wheels; \
    else \
        python3 -m venv /tmp/pip; \
        /tmp/pip/bin/pip wheel --no-cache-dir -w /wheels/deps -c requirements/lock.txt ".[${EXTRAS}]"; \
        mkdir /wheels/app; \
        mv /wheels/deps/tailor_recsys-*.whl /wheels/app/; \
    fi

# --- 2. the dependencies in a virtual environment, installed without an index and without
# resolving again (the wheel set is complete); a layer that survives changes to tailor's code
FROM ${BASE} AS deps
RUN python3 -m venv /opt/tailor
COPY --from=wheels /wheels/deps /wheels/deps
# pip check: a wheel set resolved for another Python (markers such as python_full_version)
# fails here, not at run time
RUN /opt/tailor/bin/pip install --no-cache-dir --no-index --no-deps /wheels/deps/*.whl \
    && /opt/tailor/bin/pip check

# --- 3. the runtime: the base, the venv, tailor, a non-root user; no wheels, no pip
FROM ${BASE}
LABEL org.opencontainers.image.title="tailor" \
      org.opencontainers.image.description="Recommendations for online shops: tailor serve, stream and train" \
      org.opencontainers.image.licenses="Apache-2.0"
# a fixed numeric user, so Kubernetes can check runAsNonRoot; /data is the model store's mount
RUN groupadd --system --gid 10001 tailor \
    && useradd --system --uid 10001 --gid tailor --home-dir /home/tailor --create-home \
        --shell /usr/sbin/nologin tailor \
    && mkdir /data && chown tailor:tailor /data
COPY --from=deps /opt/tailor /opt/tailor
# tailor itself last (the only layer a code change rebuilds), then pip leaves the image
COPY --from=wheels /wheels/app /tmp/app
RUN /opt/tailor/bin/pip install --no-cache-dir --no-index --no-deps /tmp/app/*.whl \
    && /opt/tailor/bin/pip uninstall --yes --quiet pip \
    && rm -rf /tmp/app
# numba caches compiled kernels beside its sources unless told otherwise: the venv is read-only
# to the user, so /tmp (an emptyDir under a read-only root filesystem)
ENV PATH=/opt/tailor/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NUMBA_CACHE_DIR=/tmp/numba \
    TAILOR_HOST=0.0.0.0 \
    TAILOR_PORT=8000 \
    TAILOR_MODEL_DIR=/data/store
USER 10001:10001
WORKDIR /home/tailor
EXPOSE 8000
# serve's readiness (a model or a popular list loaded, Redis answering when configured); the
# stream and train roles turn it off (compose.yaml) or use their own probes (Kubernetes)
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('TAILOR_PORT', '8000') + '/health/ready', timeout=2)"]
ENTRYPOINT ["tailor"]
CMD ["serve"]
