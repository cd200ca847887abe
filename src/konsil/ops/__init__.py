"""Operations: task queues and workers (database or Celery), idempotent task runs, backup and restore."""
