# The livecommerce image: one image for web, ws, worker, beat and migrate (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UVICORN_HOST=0.0.0.0 \
    UVICORN_PORT=8000 \
    WEB_BIND=0.0.0.0:8000

WORKDIR /app
RUN useradd --create-home --uid 10001 app

# Dependencies first, in their own layer: code changes do not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

COPY . .
RUN pip install --no-deps . \
    && DEBUG=0 SECRET_KEY=collectstatic-only-not-a-real-secret-0123456789abcdefghij \
       PAYMENT_SANDBOX_ALLOWED=1 \
       python manage.py collectstatic --noinput \
    && mkdir -p .devdata \
    && chown -R app:app .devdata

USER app
EXPOSE 8000
# The Procfile's `web` command (scripts/check_compose.py checks it).
CMD ["gunicorn", "--config", "livecommerce/gunicorn.conf.py", "livecommerce.wsgi:application"]
