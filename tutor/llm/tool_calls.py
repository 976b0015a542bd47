"""Tool calls a model writes as JSON in its reply, parsed and validated against the tool schemas.

Small instruct models (the embedded Qwen2.5-Coder-1.5B) are shown the tools by their chat
template but do not emit the structured `<tool_call>` tags a server would turn into native
`tool_calls`; they write the call as a JSON object instead: bare, in a ```json fence, or
several of them. `parse_tool_calls` finds those objects, matches each to a bound tool by name
and validates the arguments against that tool's JSON schema. Valid calls become LangChain
`ToolCall`s (with ids); everything else that was meant as a call (unknown tool, wrong types,
unexpected arguments, malformed JSON) becomes an `InvalidToolCall` with the reason, so it is
never executed and the agent can show the model its mistake. The reply is model output and
treated as hostile: its length, the number of calls and the size of arguments are bounded.

Any backend whose capability is `ToolCalling.JSON` uses this (`attach_tool_calls`); native
`tool_calls` from a server go through the same validation.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Sequence

from langchain_core.messages import AIMessage
from langchain_core.messages.tool import InvalidToolCall, ToolCall, invalid_tool_call, tool_call

MAX_REPLY_CHARS = 32_000  # longer replies are scanned only this far
MAX_ARGS_CHARS = 8_000  # a call whose arguments serialise longer than this is refused
MAX_CALLS = 8
MAX_DECODE_ATTEMPTS = 256  # bounds the work on text full of braces
ARG_KEYS = ("arguments", "parameters", "args")

_NAME = re.compile(r'"name"\s*:\s*"([^"\\]{1,200})"')
_EMPTY_FENCE = re.compile(r"```[a-zA-Z]*[ \t]*\n?\s*```(?![a-zA-Z])")
_EMPTY_TAGS = re.compile(r"<tool_call>\s*</tool_call>")
_TAG = re.compile(r"</?tool_call>")


def tool_specs(tools: Sequence[Any]) -> list[dict]:
    """OpenAI-format function specs for tools given as LangChain tools, pydantic models,
    functions or dicts (what `bind_tools` accepts)."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    specs, seen = [], set()
    for t in tools:
        spec = convert_to_openai_tool(t)
        name = spec["function"]["name"]
        if name in seen:
            raise ValueError(f"two tools are named '{name}'")
        seen.add(name)
        specs.append(spec)
    return specs


NOT_SHOWN = ("title", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def _compact(schema: Any) -> Any:
    """A schema as the model should read it: Optional[X] (anyOf X|null) shown as X, no
    `default: null`, no titles, no numeric bounds. Every token of the tool list is evaluated
    on each call that misses the prompt cache (19k characters for the seven experiment tools
    in full), and the 1.5B model copies bounds into its calls ("5000 steps" became
    total_steps=500000 next to maximum 1000000, "lr 0.01" got epochs=50 next to maximum 50;
    without them the requested values came back right, bench/RESULTS.md). The bounds are
    still enforced: validation uses the full schema."""
    if isinstance(schema, list):
        return [_compact(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _compact(v) for k, v in schema.items()
           if k not in NOT_SHOWN and not (k == "default" and v is None)}
    for key in ("anyOf", "oneOf"):
        subs = out.get(key)
        if isinstance(subs, list):
            rest = [s for s in subs if s != {"type": "null"}]
            if len(rest) == 1 and isinstance(rest[0], dict) and len(rest) < len(subs):
                out.pop(key)
                out = {**rest[0], **out}
    return out


def prompt_specs(specs: Sequence[dict]) -> list[dict]:
    """The specs as shown to the model (compacted); validation keeps the full schemas."""
    return [_compact(s) for s in specs]


def _schemas(specs: Sequence[dict]) -> dict[str, dict]:
    out = {}
    for s in specs:
        fn = s.get("function", s)
        out[fn["name"]] = fn.get("parameters") or {"type": "object", "properties": {}}
    return out


# ---- argument validation ------------------------------------------------------------------

def _types(schema: dict) -> set[str]:
    """The JSON types a (sub)schema allows, looking through anyOf/oneOf (pydantic's Optional)."""
    t = schema.get("type")
    out = set([t] if isinstance(t, str) else t or [])
    for key in ("anyOf", "oneOf"):
        for sub in schema.get(key) or []:
            if isinstance(sub, dict):
                out |= _types(sub)
    return out


def _coerce(value: Any, schema: dict) -> Any:
    """Numbers and booleans a model quoted ("3", "0.01", "true") become what the schema wants;
    anything else is left for the validator to judge."""
    if not isinstance(value, str) or len(value) > 64:
        return value
    allowed, v = _types(schema), value.strip()
    if "string" in allowed:
        return value
    if "integer" in allowed and re.fullmatch(r"[+-]?\d{1,18}", v):
        return int(v)
    if "number" in allowed and re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", v):
        return float(v)
    if "boolean" in allowed and v.lower() in ("true", "false"):
        return v.lower() == "true"
    return value


def _message(error) -> str:
    """The useful part of a jsonschema error: for Optional[...] (anyOf with null) the reason the
    non-null branch failed ("300 is greater than the maximum of 50"), not "not valid under any"."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        subs = [c.message for c in error.context if not (c.validator == "type" and c.validator_value == "null")]
        if subs:
            return "; ".join(dict.fromkeys(subs))
    return error.message


def validate_args(args: Any, schema: dict) -> tuple[dict | None, str | None]:
    """(arguments, None) when they fit the schema, else (None, reason).

    Arguments the schema does not declare are an error (unless it allows them explicitly):
    a model that invents a parameter should be told, not have it silently dropped. Nulls
    mean "not given" and are dropped after validation."""
    import jsonschema

    if not isinstance(args, dict):
        return None, f"arguments must be a JSON object, got {type(args).__name__}"
    props = schema.get("properties") or {}
    extra = [k for k in args if k not in props]
    if extra and props is not None and schema.get("additionalProperties") is not True:
        known = ", ".join(props) or "none"
        return None, f"unexpected argument(s) {', '.join(map(repr, extra[:5]))[:300]} (known: {known})"
    args = {k: _coerce(v, props.get(k) or {}) for k, v in args.items()}
    try:
        validator = jsonschema.Draft202012Validator(schema)
        errors = sorted(validator.iter_errors(args), key=lambda e: list(e.path))
    except (jsonschema.SchemaError, RecursionError) as e:  # a broken tool schema is our bug, not the model's
        return None, f"the tool's schema cannot be checked: {str(e)[:200]}"
    if errors:
        parts = []
        for e in errors[:3]:
            where = ".".join(str(p) for p in e.path) or "arguments"
            parts.append(f"{where}: {_message(e)[:200]}")
        return None, "; ".join(parts)
    return {k: v for k, v in args.items() if v is not None}, None


# ---- finding calls in text ----------------------------------------------------------------

def _call_parts(obj: Any) -> tuple[str, Any] | None:
    """(name, arguments) if the object is shaped like a call, else None.

    Accepted: {"name", "arguments"|"parameters"|"args"}, {"function": {...}} (OpenAI style,
    arguments possibly a JSON string), and {"name": TOOL, ...flat arguments} which the
    caller accepts only when TOOL is a bound tool's name."""
    if not isinstance(obj, dict):
        return None
    fn = obj.get("function")
    if isinstance(fn, dict) and isinstance(fn.get("name"), str):
        obj = fn
    name = obj.get("name")
    if not isinstance(name, str):
        return None
    for key in ARG_KEYS:
        if key in obj:
            args = obj[key]
            if isinstance(args, str):  # OpenAI sends arguments as a JSON string
                try:
                    args = json.loads(args) if args.strip() else {}
                except ValueError:
                    pass  # left a string: validation reports it
            return name, args
    return name, _FLAT


_FLAT = object()  # marker: arguments written next to "name" instead of inside "arguments"


def _find_objects(text: str) -> list[tuple[int, int, Any]]:
    """(start, end, value) of every top-level JSON object/array in the text, in order."""
    decoder = json.JSONDecoder()
    out, i, attempts = [], 0, 0
    while attempts < MAX_DECODE_ATTEMPTS:
        starts = [p for p in (text.find("{", i), text.find("[", i)) if p >= 0]
        if not starts:
            break
        start = min(starts)
        attempts += 1
        try:
            value, end = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            i = start + 1
            continue
        if isinstance(value, (dict, list)):
            out.append((start, end, value))
            i = end
        else:
            i = start + 1
    return out


@dataclass
class ParsedReply:
    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    invalid_tool_calls: list[InvalidToolCall] = field(default_factory=list)


def _new_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def _unwrap_schema_echo(args: Any, schema: dict) -> Any:
    """{"properties": {"epochs": 3}, "type": "object"} -> {"epochs": 3}: the 1.5B model sometimes
    wraps its arguments in the shape of the schema it was shown (seen with the compact specs)."""
    declared = schema.get("properties") or {}
    if (isinstance(args, dict) and isinstance(args.get("properties"), dict) and "properties" not in declared
            and set(args) <= {"properties", "type", "required"}):
        return args["properties"]
    return args


def _judge(name: str, args: Any, schemas: dict[str, dict], call_id: str | None, raw: str | None = None
           ) -> ToolCall | InvalidToolCall:
    call_id = call_id or _new_id()

    def bad(reason: str) -> InvalidToolCall:
        if raw is not None or isinstance(args, str):
            shown = raw if raw is not None else args
        else:
            try:
                shown = json.dumps(args, ensure_ascii=False, default=str)
            except (ValueError, RecursionError):
                shown = "<unprintable>"
        return invalid_tool_call(name=name[:200], args=shown[:MAX_ARGS_CHARS], id=call_id, error=reason)

    if name not in schemas:
        return bad(f"unknown tool '{name[:100]}'; available: {', '.join(schemas) or 'none'}")
    if isinstance(args, str):
        return bad("the arguments are not valid JSON")
    try:
        size = len(json.dumps(args, ensure_ascii=False, default=str))
    except (ValueError, RecursionError):
        return bad("arguments cannot be serialised")
    if size > MAX_ARGS_CHARS:
        return bad(f"arguments too long ({size} characters, at most {MAX_ARGS_CHARS})")
    valid, error = validate_args(_unwrap_schema_echo(args, schemas[name]), schemas[name])
    if error:
        return bad(error)
    return tool_call(name=name, args=valid, id=call_id)


def parse_tool_calls(text: str | None, tools: Sequence[dict], native: Sequence[dict] | None = None) -> ParsedReply:
    """The calls in a model reply, validated against `tools` (OpenAI-format specs).

    `native` are structured tool calls from the server (OpenAI format); when there are
    any, the text is not searched. Otherwise every JSON object shaped like a call is taken
    out of the text and judged; the remaining text is the reply's content."""
    schemas = _schemas(tools)
    text = text if isinstance(text, str) else ""
    out = ParsedReply(content=text)
    if native:
        for nc in list(native)[:MAX_CALLS]:
            parts = _call_parts(nc)
            if parts is None:
                out.invalid_tool_calls.append(invalid_tool_call(name=None, args=str(nc)[:MAX_ARGS_CHARS],
                                                                id=_new_id(), error="malformed tool call"))
                continue
            name, args = parts
            raw = (nc.get("function") or {}).get("arguments") if isinstance(nc.get("function"), dict) else None
            judged = _judge(name, {} if args is _FLAT else args, schemas, nc.get("id"),
                            raw if isinstance(raw, str) else None)
            (out.invalid_tool_calls if judged["type"] == "invalid_tool_call" else out.tool_calls).append(judged)
        return out

    scanned = text[:MAX_REPLY_CHARS]
    spans: list[tuple[int, int]] = []
    for start, end, value in _find_objects(scanned):
        if isinstance(value, dict) and isinstance(value.get("tool_calls"), list):
            items = value["tool_calls"]  # {"tool_calls": [...]}, as some models echo the API
        else:
            items = value if isinstance(value, list) else [value]
        calls = []
        for item in items:
            parts = _call_parts(item)
            if parts is None:
                continue
            name, args = parts
            if args is _FLAT:
                if name not in schemas:  # {"name": "Alice", ...} in an explanation is not a call
                    continue
                args = {k: v for k, v in item.items() if k not in ("name", "type", "id")}
            calls.append((name, args))
        if not calls:
            continue
        spans.append((start, end))
        for name, args in calls:
            if len(out.tool_calls) + len(out.invalid_tool_calls) >= MAX_CALLS:
                break
            judged = _judge(name, args, schemas, None)
            (out.invalid_tool_calls if judged["type"] == "invalid_tool_call" else out.tool_calls).append(judged)

    if not spans:
        # something that was meant as a call but is not valid JSON: say so, so the agent can re-prompt
        m = _NAME.search(scanned)
        if m and m.group(1) in schemas and "{" in scanned[:m.start()]:
            snippet = scanned[scanned.rfind("{", 0, m.start()):][:MAX_ARGS_CHARS]
            out.invalid_tool_calls.append(invalid_tool_call(
                name=m.group(1), args=snippet, id=_new_id(), error="the call is not valid JSON"))
            out.content = ""
        return out

    kept, last = [], 0
    for start, end in spans:
        kept.append(scanned[last:start])
        last = end
    kept.append(text[last:])
    content = "".join(kept)
    for _ in range(4):  # a call nested in fences leaves nested empty fences
        content = _EMPTY_FENCE.sub("", _EMPTY_TAGS.sub("", content))
    content = _TAG.sub("", content)
    out.content = content.strip()
    return out


def attach_tool_calls(message: AIMessage, tools: Sequence[dict], parse_text: bool = True) -> AIMessage:
    """The message with its tool calls validated against `tools`: the native ones when the
    server gave any, else (with parse_text) the JSON calls written in its content."""
    native = [
        {"id": tc.get("id"), "function": {"name": tc["name"], "arguments": tc.get("args") or {}}}
        for tc in message.tool_calls
    ] + [
        {"id": tc.get("id"), "function": {"name": tc.get("name") or "", "arguments": tc.get("args") or ""}}
        for tc in message.invalid_tool_calls
    ]
    if not native and not parse_text:
        return message
    content = message.content if isinstance(message.content, str) else ""
    parsed = parse_tool_calls(content, tools, native=native or None)
    return message.model_copy(update={
        "content": parsed.content if not native else message.content,
        "tool_calls": parsed.tool_calls,
        "invalid_tool_calls": list(parsed.invalid_tool_calls),
    })
