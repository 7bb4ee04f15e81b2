# facilbot service image: build a wheel with the build tools, install it into a clean venv,
# and ship only that venv on a slim base, run as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip build
COPY pyproject.toml README.md LICENSE ./
COPY runofshow ./runofshow
COPY integrations ./integrations
COPY facilbot ./facilbot
COPY migrations ./migrations
RUN python -m build --wheel --outdir /dist
# Extras: postgres for production databases; add ",teams" to EXTRAS for Microsoft Teams.
ARG EXTRAS=postgres
RUN python -m venv /venv \
    && /venv/bin/pip install --no-cache-dir "$(ls /dist/*.whl)[${EXTRAS}]"

FROM python:3.11-slim AS runtime
RUN useradd --system --create-home --home-dir /home/facilbot --uid 10001 facilbot
COPY --from=build /venv /venv
COPY migrations /app/migrations
COPY examples /app/examples
WORKDIR /app
ENV PATH=/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FACILBOT_DATA_DIR=/home/facilbot/data \
    FACILBOT_MIGRATIONS_DIR=/app/migrations \
    FACILBOT_HOST=0.0.0.0
USER facilbot
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz').status == 200 else 1)"
CMD ["facilbot", "serve", "--host", "0.0.0.0", "--port", "8000"]
