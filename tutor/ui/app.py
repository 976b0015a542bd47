"""The Chainlit app (mounted at / by tutor.ui.mount): an adapter that renders the typed
events of `TutorService.chat` — the same service the API and the bots use.

- tokens stream into the answer message; sources become side elements named [1], [2]…
  so the citation numbers in the text link to them; retrieval and tool calls are steps;
- experiment runs: a task list and a step with epoch/step progress and metrics, then the
  plots inline (cl.Image), the comparison as an interactive cl.Plotly, and action buttons
  (run again with other parameters, compare runs, cancel, download artifacts);
- an uploaded image runs inference with the student's last checkpoint;
- chat settings: language, mode, LLM backend/model, default preset; password login, and
  OAuth login (GitHub, Google, Keycloak, ...) when a provider's OAUTH_* variables are set;
  history and feedback through Chainlit's SQLAlchemy data layer on the tutor database.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import chainlit as cl
from chainlit.input_widget import Select, TextInput
from chainlit.utils import utc_now

from tutor.names import safe_login
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


def _oauth_email(provider_id: str, raw: dict, default_user) -> str | None:
    """The account's verified e-mail address, if the provider tells it."""
    for e in raw.get("emails") or []:  # GitHub: the /user/emails list
        if isinstance(e, dict) and e.get("verified") and e.get("primary") and e.get("email"):
            return str(e["email"]).lower()
    for e in raw.get("emails") or []:
        if isinstance(e, dict) and e.get("verified") and e.get("email"):
            return str(e["email"]).lower()
    if raw.get("email_verified", raw.get("verified_email")) is False:
        return None
    email = raw.get("email") or raw.get("mail") or raw.get("upn")
    if email and (provider_id != "github" or not raw.get("emails")):
        return str(email).lower()
    ident = getattr(default_user, "identifier", "") or ""
    return ident.lower() if "@" in ident and provider_id != "github" else None


def _allowed_domains() -> list[str]:
    raw = runtime.settings().oauth_allowed_domains
    if isinstance(raw, str):
        raw = raw.split(",")
    return [d.strip().lower().lstrip("@") for d in raw if d and d.strip()]


async def oauth(provider_id: str, token: str, raw_user_data: dict, default_user: cl.User, id_token: str | None = None):
    """OAuth login: the provider's account becomes the tutor UI user '<provider>:<login>'
    (created with role student on the first login, so its history and feedback persist like
    a password user's; a local account of the same name is never taken over). With
    TUTOR_OAUTH_ALLOWED_DOMAINS set, only verified e-mails of those domains get in."""
    email = _oauth_email(provider_id, raw_user_data or {}, default_user)
    domains = _allowed_domains()
    if domains and not (email and email.rsplit("@", 1)[-1] in domains):
        log.warning("OAuth login refused for %s:%s (e-mail %s not in the allowed domains)", provider_id,
                    default_user.identifier, email)
        return None
    # the login becomes part of the owner 'ui:<provider>:<login>': odd characters are mapped to a safe name
    username = f"{provider_id}:{safe_login(default_user.identifier)}"
    user = await asyncio.to_thread(runtime.users().ensure_external, username, provider_id)
    meta = {k: v for k, v in (default_user.metadata or {}).items() if k in ("image",)}
    return cl.User(identifier=user["username"], display_name=default_user.display_name or default_user.identifier,
                   metadata={**meta, "role": user["role"], "provider": provider_id, "email": email})


def _oauth_configured() -> bool:
    from chainlit.oauth_providers import get_configured_oauth_providers

    return bool(get_configured_oauth_providers())


if _oauth_configured():  # chainlit refuses an oauth callback without a configured provider
    cl.oauth_callback(oauth)


@cl.data_layer
def data_layer():
    from chainlit.data.sql_alchemy import SQLAlchemyDataLayer

    # element files (plots, source cards) on local disk, so a resumed thread shows them again
    return SQLAlchemyDataLayer(conninfo=runtime.async_db_url(), storage_provider=runtime.ui_storage())


# ---- starters and settings -----------------------------------------------------------------------

STARTERS = {
    "ru": [("Объясни, как работает свёртка", "Объясни, как работает свёртка"), ("Обучи CNN на MNIST", "/run cnn smoke"),
           ("Запусти DQN на CartPole", "Запусти DQN на CartPole"), ("Сравни мои запуски GAN", "/compare gan"),
           ("Что такое механизм внимания?", "Что такое механизм внимания?")],
    "en": [("Explain how a convolution works", "Explain how a convolution works"), ("Train a CNN on MNIST", "/run cnn smoke"),
           ("Run DQN on CartPole", "Run DQN on CartPole"), ("Compare my GAN runs", "/compare gan"),
           ("What is self-attention?", "What is self-attention in a transformer?")],
}


def ui_language(browser: str | None) -> str:
    """The tutor's language for a browser language ("en-GB" → en); Russian, the course's
    language, for anything else."""
    return "en" if (browser or "").lower().startswith("en") else "ru"


STAFF_STARTER = {"ru": ("Страница курса (для преподавателей)", "/staff"), "en": ("Course page (staff)", "/staff")}
STAFF_PAGE = {"ru": "[Страница курса для преподавателей](/staff): материалы, домашние задания, статистика.",
              "en": "[The course's staff page](/staff): materials, homework, stats."}


@cl.set_starters
async def starters(user=None, language=None):
    lang = ui_language(language)
    items = list(STARTERS[lang])
    if (getattr(user, "metadata", None) or {}).get("role") in ("staff", "admin"):
        items.append(STAFF_STARTER[lang])  # a starter, not a message: a message on start would hide the starters
    return [cl.Starter(label=label, message=message) for label, message in items]


def _is_staff() -> bool:
    user = cl.user_session.get("user")
    return ((getattr(user, "metadata", None) or {}).get("role") in ("staff", "admin"))


def _student_models() -> list[str]:
    """Models a student may choose: the configured default and TUTOR_UI_LLM_MODELS."""
    st = runtime.settings()
    extra = [m.strip() for m in (st.ui_llm_models or "").split(",") if m.strip()]
    return list(dict.fromkeys([st.llm_model or ""] + extra))


def _llm_widgets(v: dict) -> list:
    """Staff pick any backend and model; students pick among the configured backend, 'none'
    (answers quoted from the materials, no LLM) and the allow-listed models: a student must
    not make the server load an arbitrary model file."""
    st = runtime.settings()
    if _is_staff():
        backends = list(dict.fromkeys(["llamacpp", "openai", "hf", "none", st.llm_backend]))
        return [Select(id="llm_backend", label="LLM", values=backends,
                       initial_value=v.get("llm_backend") if v.get("llm_backend") in backends else st.llm_backend),
                TextInput(id="llm_model", label="LLM model (path or name)",
                          initial=v.get("llm_model") or st.llm_model or "")]
    backends = list(dict.fromkeys([st.llm_backend, "none"]))
    models = _student_models()
    widgets = [Select(id="llm_backend", label="LLM", values=backends,
                      initial_value=v.get("llm_backend") if v.get("llm_backend") in backends else st.llm_backend)]
    if len(models) > 1:
        items = {(m or "default / по умолчанию"): m for m in models}
        widgets.append(Select(id="llm_model", label="LLM model", items=items,
                              initial_value=v.get("llm_model") if v.get("llm_model") in models else models[0]))
    return widgets


def _settings_widgets(values: dict | None = None) -> list:
    st, v = runtime.settings(), values or {}

    def pick(key, allowed, default):
        return v.get(key) if v.get(key) in allowed else default

    return [
        Select(id="language", label="Язык / Language", values=["ru", "en"],
               initial_value=pick("language", ["ru", "en"], "ru")),
        Select(id="mode", label="Режим / Mode", values=["explain", "hint"],
               initial_value=pick("mode", ["explain", "hint"], "explain"),
               description="hint: наводящие вопросы без готовых решений"),
        *_llm_widgets(v),
        Select(id="preset", label="Пресет экспериментов / Default preset", values=["smoke", "quick", "full"],
               initial_value=pick("preset", ["smoke", "quick", "full"], st.default_preset)),
    ]


@cl.on_chat_start
async def start():
    # the student's browser language until they pick one in the settings (the UI's own texts
    # follow it too: tutor/ui/translations)
    lang = ui_language(getattr(cl.context.session, "language", None))
    cl.user_session.set("language", lang)
    settings = await cl.ChatSettings(_settings_widgets({"language": lang})).send()
    await apply_settings(settings)


@cl.on_chat_resume
async def resume(thread):
    """A thread reopened from the history: the settings it was left with (Chainlit restores
    the user session from the thread's metadata) and the settings panel again."""
    meta = thread.get("metadata") or {}
    if isinstance(meta, str):  # the SQLAlchemy data layer returns it as JSON text
        try:
            meta = json.loads(meta)
        except ValueError:
            meta = {}
    saved = dict((meta or {}).get("chat_settings") or {})
    saved.setdefault("language", (meta or {}).get("language") or "ru")
    settings = await cl.ChatSettings(_settings_widgets(saved)).send()
    await apply_settings(settings)


@cl.on_settings_update
async def apply_settings(settings: dict):
    cl.user_session.set("language", settings.get("language") or "ru")
    cl.user_session.set("mode", settings.get("mode") or "explain")
    cl.user_session.set("preset", settings.get("preset") or "quick")
    backend, model = settings.get("llm_backend"), (settings.get("llm_model") or None)
    if not _is_staff():  # the settings form is client input: re-check the allow-list
        st = runtime.settings()
        if backend not in (st.llm_backend, "none"):
            backend = st.llm_backend
        if (model or "") not in _student_models():
            model = st.llm_model
    cl.user_session.set("llm", (backend, model))


# ---- messages --------------------------------------------------------------------------------------

def _llm_choice():
    """(llm, problem): the LLM this chat picked in its settings (None: the configured one);
    problem says why that LLM cannot be used."""
    backend, model = cl.user_session.get("llm") or (None, None)
    return runtime.tutor().choose_llm(backend, model)


def _thread_id() -> str:
    return f"ui/{cl.context.session.thread_id}"


def _user() -> str:
    u = cl.user_session.get("user")
    return f"ui:{u.identifier}" if u else "ui:anonymous"


def _course() -> str | None:
    """The account's course (tutor/courses), read every turn so that a change applies without a new login;
    None for admins (their chats pick one with /course)."""
    u = cl.user_session.get("user")
    account = runtime.users().account(u.identifier) if u else None
    if account is None:
        return None
    return runtime.tutor().services.courses.course_of(account["role"], account.get("course"))


@cl.on_message
async def on_message(message: cl.Message):
    attachments = []
    for el in message.elements or []:
        path = getattr(el, "path", None)
        if path:
            attachments.append({"name": el.name, "path": path, "mime": getattr(el, "mime", "") or ""})
    text = message.content or ""
    if text.strip() == "/staff" and _is_staff():  # the course's materials, homework and stats (tutor/courses/page.py)
        await cl.Message(content=STAFF_PAGE[_lang()]).send()
        return
    if not text.strip() and attachments:
        text = "Что на этом изображении?" if _lang() == "ru" else "What is in this image?"
    preset = cl.user_session.get("preset")
    if text.startswith("/run ") and preset and not any(p in text.split() for p in ("smoke", "quick", "full")):
        text = f"{text} {preset}"
    await run_turn(text, attachments)


async def run_turn(text: str, attachments: list | None = None):
    llm, problem = _llm_choice()
    answer = cl.Message(content="")
    state = {"task_list": None, "progress_step": None}
    if problem:
        await _toast(f"{_t('llm_down')} ({problem})", "warning")
    try:
        await _render_turn(llm, answer, state, text, attachments)
    except Exception as e:  # a broken turn ends with a visible error, never a half-streamed message
        log.exception("UI turn failed")
        msg = f"{_t('error')}: {e}" if str(e) else f"{_t('error')}: {type(e).__name__}"
        answer.content = (answer.content + "\n\n" + msg).strip()
        answer.is_error = True
        try:
            if state["task_list"] is not None:
                state["task_list"].status = _t("error")
                await state["task_list"].send()
            if state["progress_step"] is not None and not state["progress_step"].end:
                state["progress_step"].end, state["progress_step"].is_error = utc_now(), True
                await state["progress_step"].update()
        except Exception:
            pass
    await answer.send()
    return answer


async def _toast(message: str, kind: str = "info") -> None:
    try:
        await cl.context.emitter.send_toast(message, kind)
    except Exception as e:  # a toast is a nicety
        log.debug("toast failed: %s", e)


async def _render_turn(llm, answer: cl.Message, state: dict, text: str, attachments: list | None) -> None:
    progress_step = None
    task_list = None
    sources = []
    job_id = None
    tool = None
    course = await asyncio.to_thread(_course)
    async for ev in runtime.tutor().chat(_thread_id(), _user(), text, mode=cl.user_session.get("mode"),
                                         attachments=attachments, llm=llm, course=course):
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
            task_list = state["task_list"] = cl.TaskList(status=f"{ev.tool} {ev.job_id}")
            task_list.tasks = [cl.Task(title=f"{ev.tool}: {_t('queued')}", status=cl.TaskStatus.RUNNING)]
            await task_list.send()
            # inside the turn (like the steps opened with `async with`), with its start time, so the
            # UI nests it under the question and shows it running until the job ends
            run = cl.context.current_step
            progress_step = state["progress_step"] = cl.Step(name=f"{_t('progress')} {ev.tool} ({ev.job_id})",
                                                             type="run", parent_id=run.id if run else None)
            progress_step.start = utc_now()
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
        elif t == "error":  # the service also writes the explanation into the answer text
            log.info("turn error %s: %s", ev.code, ev.message)
            answer.is_error = True
        elif t == "final":
            if task_list is not None:
                task_list.tasks[0].status = cl.TaskStatus.DONE if ev.intent != "error" else cl.TaskStatus.FAILED
                task_list.status = "done"
                await task_list.send()
            if progress_step is not None:
                progress_step.end = utc_now()
                progress_step.is_error = ev.intent == "error" or bool(ev.error)
                await progress_step.update()
            answer.elements = (answer.elements or []) + [
                cl.Text(name=f"[{s.n}]", content=f"**{s.source}** — {s.section} ({s.anchor})\n\n{s.snippet}",
                        display="side") for s in ev.sources]
            job = ev.job
            answer.actions = _actions(ev, tool or (job.tool if job else None), job_id or ev.job_id)
            comparison = ev.comparison
            if comparison and comparison.plotly:
                try:
                    import plotly.io as pio

                    fig = pio.from_json(json.dumps(comparison.plotly))
                    answer.elements.append(cl.Plotly(name="parallel_coordinates", figure=fig, display="inline"))
                except Exception as e:  # a broken figure must not break the answer
                    log.warning("cannot render comparison: %s", e)
            if not answer.content:
                answer.content = ev.answer
            if ev.llm_failed:
                await _toast(_t("llm_down"), "warning")


async def _show_artifact(answer: cl.Message, ev):
    p = Path(ev.path)
    if any(getattr(e, "path", None) == str(p) for e in answer.elements or []):
        return  # the job streams its artifacts and the report names the plots again: show each once
    if ev.kind == "image" and p.is_file() and p.suffix.lower() in (".png", ".jpg", ".jpeg"):
        answer.elements = (answer.elements or []) + [cl.Image(name=p.name, path=str(p), display="inline", size="large")]
    elif ev.kind in ("html", "json", "checkpoint") and p.is_file() and p.stat().st_size < 50_000_000:
        answer.elements = (answer.elements or []) + [cl.File(name=p.name, path=str(p), display="inline")]


def _actions(final, tool: str | None, job_id: str | None) -> list[cl.Action]:
    job = final.job
    if not tool or (final.intent not in ("experiment", "confirm", "status", "agent") and not job):  # "/status ID" too
        return []
    acts = [cl.Action(name="run_again", payload={"tool": tool}, label=_t("again"), icon="refresh-cw"),
            cl.Action(name="compare_runs", payload={"tool": tool}, label=_t("compare"), icon="chart-line")]
    if job_id:
        if job is None or job.status in ("queued", "running"):
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
    # the payload comes back from the browser: only the student's own jobs
    job = await asyncio.to_thread(runtime.tutor().job_for, _user(), str(action.payload.get("job_id") or ""))
    if not job:
        await cl.Message(content=f"{_t('error')}: job '{action.payload.get('job_id')}' not found").send()
        return
    files = [cl.File(name=a["name"], path=a["path"], display="inline") for a in job.get("artifacts") or []
             if Path(a["path"]).is_file()]
    await cl.Message(content=", ".join(f.name for f in files) or "—", elements=files).send()
