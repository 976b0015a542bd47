"""The Chainlit app (mounted at / by tutor.ui.mount): an adapter that renders the typed
events of `TutorService.chat` — the same service the API and the bots use.

- tokens stream into the answer message; sources become side elements named [1], [2]…
  so the citation numbers in the text link to them; retrieval and tool calls are steps;
- experiment runs: a task list and a step with epoch/step progress and metrics, then the
  plots inline (cl.Image), the comparison as an interactive cl.Plotly, and action buttons
  (run again with other parameters, compare runs, cancel, download artifacts);
- an uploaded image runs inference with the student's last checkpoint;
- chat settings: language, mode, LLM backend/model, default preset; password login;
  history and feedback through Chainlit's SQLAlchemy data layer on the tutor database.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import chainlit as cl
from chainlit.input_widget import Select, TextInput

from tutor.ui import runtime

log = logging.getLogger(__name__)

TEXT = {
    "ru": {"thinking": "Ищу в материалах курса", "progress": "Обучение", "queued": "в очереди",
           "again": "Запустить снова", "compare": "Сравнить запуски", "cancel": "Отменить", "download": "Скачать артефакты",
           "again_ask": "Какие параметры изменить? Например: epochs=5 lr=0.003", "error": "Ошибка",
           "llm_down": "Языковая модель недоступна — отвечаю по материалам курса без неё."},
    "en": {"thinking": "Searching the course materials", "progress": "Training", "queued": "queued",
           "again": "Run again", "compare": "Compare runs", "cancel": "Cancel", "download": "Download artifacts",
           "again_ask": "Which parameters should change? For example: epochs=5 lr=0.003", "error": "Error",
           "llm_down": "The language model is unavailable — answering from the course materials without it."},
}


def _lang() -> str:
    return cl.user_session.get("language") or "ru"


def _t(key: str) -> str:
    return TEXT[_lang()][key]


# ---- authentication and persistence ----------------------------------------------------------

@cl.password_auth_callback
async def auth(username: str, password: str):
    user = runtime.users().verify(username, password)
    if user is None:
        return None
    return cl.User(identifier=user["username"], metadata={"role": user["role"], "provider": "credentials"})


@cl.data_layer
def data_layer():
    from chainlit.data.sql_alchemy import SQLAlchemyDataLayer

    return SQLAlchemyDataLayer(conninfo=runtime.async_db_url())


# ---- starters and settings -----------------------------------------------------------------------

@cl.set_starters
async def starters(user=None, language=None):
    return [
        cl.Starter(label="Объясни, как работает свёртка", message="Объясни, как работает свёртка"),
        cl.Starter(label="Обучи CNN на MNIST", message="/run cnn smoke"),
        cl.Starter(label="Запусти DQN на CartPole", message="Запусти DQN на CartPole"),
        cl.Starter(label="Сравни мои запуски GAN", message="/compare gan"),
        cl.Starter(label="What is a transformer?", message="What is self-attention in a transformer?"),
    ]


@cl.on_chat_start
async def start():
    cl.user_session.set("language", "ru")
    settings = await cl.ChatSettings([
        Select(id="language", label="Язык / Language", values=["ru", "en"], initial_value="ru"),
        Select(id="mode", label="Режим / Mode", values=["explain", "hint"], initial_value="explain",
               description="hint: наводящие вопросы без готовых решений"),
        Select(id="llm_backend", label="LLM", values=["llamacpp", "openai", "none"],
               initial_value=runtime.settings().llm_backend),
        TextInput(id="llm_model", label="LLM model (path or name)", initial=runtime.settings().llm_model or ""),
        Select(id="preset", label="Пресет экспериментов / Default preset", values=["smoke", "quick", "full"],
               initial_value=runtime.settings().default_preset),
    ]).send()
    await apply_settings(settings)


@cl.on_chat_resume
async def resume(thread):
    meta = thread.get("metadata") or {}
    if isinstance(meta, str):  # the SQLAlchemy data layer returns it as JSON text
        import json as _json

        try:
            meta = _json.loads(meta)
        except ValueError:
            meta = {}
    cl.user_session.set("language", (meta or {}).get("language", "ru"))


@cl.on_settings_update
async def apply_settings(settings: dict):
    cl.user_session.set("language", settings.get("language") or "ru")
    cl.user_session.set("mode", settings.get("mode") or "explain")
    cl.user_session.set("preset", settings.get("preset") or "quick")
    backend, model = settings.get("llm_backend"), (settings.get("llm_model") or None)
    cl.user_session.set("llm", (backend, model))


# ---- messages --------------------------------------------------------------------------------------

def _service():
    """The shared TutorService; a chat may pick another LLM backend in its settings."""
    base = runtime.tutor()
    backend, model = cl.user_session.get("llm") or (None, None)
    st = base.settings
    if not backend or (backend == st.llm_backend and (model or None) == (st.llm_model or None)):
        return base
    from tutor.agent.service import TutorService
    from tutor.llm import get_llm

    try:
        llm = get_llm(st, backend=backend, model=model)
    except Exception as e:
        log.warning("LLM %s unavailable: %s", backend, e)
        llm = None
    return TutorService(st, index=base.index, jobs=base.jobs, llm=llm or (None, _none_caps()), threads=base.threads)


def _none_caps():
    from tutor.llm.base import LLMCapabilities

    return LLMCapabilities(name="none", languages=("ru", "en"))


def _thread_id() -> str:
    return f"ui/{cl.context.session.thread_id}"


def _user() -> str:
    u = cl.user_session.get("user")
    return f"ui:{u.identifier}" if u else "ui:anonymous"


@cl.on_message
async def on_message(message: cl.Message):
    attachments = []
    for el in message.elements or []:
        path = getattr(el, "path", None)
        if path:
            attachments.append({"name": el.name, "path": path, "mime": getattr(el, "mime", "") or ""})
    text = message.content or ""
    if not text.strip() and attachments:
        text = "Что на этом изображении?" if _lang() == "ru" else "What is in this image?"
    preset = cl.user_session.get("preset")
    if text.startswith("/run ") and preset and not any(p in text.split() for p in ("smoke", "quick", "full")):
        text = f"{text} {preset}"
    await run_turn(text, attachments)


async def run_turn(text: str, attachments: list | None = None):
    svc = _service()
    answer = cl.Message(content="")
    progress_step = None
    task_list = None
    sources = []
    job_id = None
    tool = None
    async for ev in svc.chat(_thread_id(), _user(), text, mode=cl.user_session.get("mode"), attachments=attachments):
        t = ev.type
        if t == "token":
            await answer.stream_token(ev.text)
        elif t == "sources":
            sources = ev.sources
            async with cl.Step(name="retrieval", type="retrieval") as step:
                step.input = ev.query
                step.output = "\n".join(f"[{s.n}] {s.source} — {s.section} ({s.anchor}) score={s.score:.3f}"
                                        for s in ev.sources)
        elif t == "tool_call":
            async with cl.Step(name=ev.name, type="tool") as step:
                step.input = json.dumps(ev.args, ensure_ascii=False)
                step.output = "ok"
        elif t == "job_planned":
            tool = ev.tool
            async with cl.Step(name=f"plan: {ev.tool}", type="tool") as step:
                step.input = json.dumps({"preset": ev.preset, **ev.config}, ensure_ascii=False)
                step.output = f"~{ev.estimate_s:.0f} s" if ev.estimate_s else ""
        elif t == "job_submitted":
            job_id, tool = ev.job_id, ev.tool
            task_list = cl.TaskList(status=f"{ev.tool} {ev.job_id}")
            task_list.tasks = [cl.Task(title=f"{ev.tool}: {_t('queued')}", status=cl.TaskStatus.RUNNING)]
            await task_list.send()
            progress_step = cl.Step(name=f"{_t('progress')} {ev.tool} ({ev.job_id})", type="run")
            await progress_step.send()
        elif t == "job_progress" and progress_step is not None:
            if ev.metrics:
                line = f"{ev.unit or 'step'} {ev.step}/{ev.total}: " + ", ".join(f"{k}={v:.4g}" for k, v in ev.metrics.items())
            else:
                line = ev.message or ""
            if line:
                progress_step.output = (progress_step.output + "\n" + line).strip()
                await progress_step.update()
            if task_list is not None and ev.step is not None:
                task_list.tasks[0].title = f"{tool}: {ev.unit or 'step'} {ev.step}/{ev.total}"
                await task_list.send()
        elif t == "artifact":
            await _show_artifact(answer, ev)
        elif t == "error":
            log.info("turn error %s: %s", ev.code, ev.message)
        elif t == "final":
            if task_list is not None:
                task_list.tasks[0].status = cl.TaskStatus.DONE if ev.intent != "error" else cl.TaskStatus.FAILED
                task_list.status = "done"
                await task_list.send()
            if progress_step is not None:
                await progress_step.update()
            answer.elements = (answer.elements or []) + [
                cl.Text(name=f"[{s.n}]", content=f"**{s.source}** — {s.section} ({s.anchor})\n\n{s.snippet}",
                        display="side") for s in ev.sources]
            answer.actions = _actions(ev, tool or (ev.data.get("job") or {}).get("tool"), job_id or ev.job_id)
            comparison = ev.data.get("comparison")
            if comparison and comparison.get("plotly"):
                try:
                    import plotly.io as pio

                    fig = pio.from_json(json.dumps(comparison["plotly"]))
                    answer.elements.append(cl.Plotly(name="parallel_coordinates", figure=fig, display="inline"))
                except Exception as e:  # a broken figure must not break the answer
                    log.warning("cannot render comparison: %s", e)
            if not answer.content:
                answer.content = ev.answer
    await answer.send()
    return answer


async def _show_artifact(answer: cl.Message, ev):
    p = Path(ev.path)
    if ev.kind == "image" and p.is_file() and p.suffix.lower() in (".png", ".jpg", ".jpeg"):
        answer.elements = (answer.elements or []) + [cl.Image(name=p.name, path=str(p), display="inline", size="large")]
    elif ev.kind in ("html", "json", "checkpoint") and p.is_file() and p.stat().st_size < 50_000_000:
        answer.elements = (answer.elements or []) + [cl.File(name=p.name, path=str(p), display="inline")]


def _actions(final, tool: str | None, job_id: str | None) -> list[cl.Action]:
    if not tool or final.intent not in ("experiment", "confirm", "status"):
        return []
    acts = [cl.Action(name="run_again", payload={"tool": tool}, label=_t("again"), icon="refresh-cw"),
            cl.Action(name="compare_runs", payload={"tool": tool}, label=_t("compare"), icon="chart-line")]
    if job_id:
        job = (final.data or {}).get("job") or {}
        if job.get("status") in (None, "queued", "running"):
            acts.append(cl.Action(name="cancel_job", payload={"job_id": job_id}, label=_t("cancel"), icon="x"))
        acts.append(cl.Action(name="download", payload={"job_id": job_id}, label=_t("download"), icon="download"))
    return acts


@cl.action_callback("run_again")
async def run_again(action: cl.Action):
    tool = action.payload["tool"]
    reply = await cl.AskUserMessage(content=_t("again_ask"), timeout=300).send()
    params = (reply or {}).get("output", "") if isinstance(reply, dict) else getattr(reply, "content", "")
    await run_turn(f"/run {tool} {params}".strip())


@cl.action_callback("compare_runs")
async def compare_runs(action: cl.Action):
    await run_turn(f"/compare {action.payload['tool']}")


@cl.action_callback("cancel_job")
async def cancel_job(action: cl.Action):
    await run_turn(f"/cancel {action.payload['job_id']}")


@cl.action_callback("download")
async def download(action: cl.Action):
    job = runtime.tutor().jobs.get(action.payload["job_id"])
    files = [cl.File(name=a["name"], path=a["path"], display="inline") for a in (job or {}).get("artifacts") or []
             if Path(a["path"]).is_file()]
    await cl.Message(content=", ".join(f.name for f in files) or "—", elements=files).send()
