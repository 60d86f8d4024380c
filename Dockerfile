FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY worker ./worker
COPY models ./models
COPY alembic ./alembic
RUN pip install --no-cache-dir . && useradd --create-home coopwatch
USER coopwatch
CMD ["celery", "-A", "worker.celery_app", "worker", "--loglevel=INFO"]
