# facilbot service image: build a wheel with the build tools, install it with the versions that
# uv.lock pins (checked against its hashes) into a clean venv, and ship only that venv on a slim
# base, run as a non-root user. The migrations ship inside the wheel.
FROM python:3.11-slim AS build
WORKDIR /src
# uv at the version and hashes of requirements-uv.txt; it runs this image's Python only.
COPY requirements-uv.txt ./
RUN pip install --no-cache-dir --require-hashes -r requirements-uv.txt
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_NO_CACHE=1
COPY pyproject.toml uv.lock README.md LICENSE ./
COPY runofshow ./runofshow
COPY integrations ./integrations
COPY facilbot ./facilbot
RUN uv build --wheel --out-dir /dist
# Extras: postgres for production databases; add ",teams" to EXTRAS for Microsoft Teams.
ARG EXTRAS=postgres
# The locked dependencies of facilbot and of these extras, each with its hashes (--locked fails
# when uv.lock does not match pyproject.toml); then the wheel alone, which resolves nothing.
RUN uv export --locked --no-emit-project --no-dev --format requirements-txt \
        $(for extra in $(echo "$EXTRAS" | tr ',' ' '); do echo "--extra $extra"; done) \
        --output-file /tmp/requirements.txt \
    && python -m venv /venv \
    && /venv/bin/pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt \
    && /venv/bin/pip install --no-cache-dir --no-deps "$(ls /dist/*.whl)" \
    && /venv/bin/pip check

FROM python:3.11-slim AS runtime
RUN useradd --system --create-home --home-dir /home/facilbot --uid 10001 facilbot
COPY --from=build /venv /venv
COPY examples /app/examples
WORKDIR /app
ENV PATH=/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FACILBOT_DATA_DIR=/home/facilbot/data \
    FACILBOT_HOST=0.0.0.0
USER facilbot
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz').status == 200 else 1)"
CMD ["facilbot", "serve", "--host", "0.0.0.0", "--port", "8000"]
