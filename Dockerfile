# One image for every service of docker-compose.yml: the Dask scheduler, the workers
# (python -m workers) and the flow runner (orchestrator run). Workers need the same
# packages as the orchestrator, since task runs are cloudpickled references to them.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY orchestrator ./orchestrator
COPY taskrun ./taskrun
COPY workers ./workers
RUN python -m pip install .
COPY examples ./examples

# Dask scheduler port, dashboard
EXPOSE 8786 8787
CMD ["python", "-m", "workers", "--help"]
