"""Planning an experiment: a validated config, its cost from the config itself, where it
runs, what it will measure, and whether the student must confirm it first.

Used by the rule path and by the LLM's `plan_experiment` / `run_experiment` tools alike, so
budgets and confirmations are enforced here and in the job queue, never in a prompt."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from tutor.agent.events import ExperimentPlan
from tutor.agent.messages import duration, say


class PlanRejected(Exception):
    """The request cannot become a job; `message` is what to tell the student."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def gpu_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False


def validation_text(e: Exception) -> str:
    if isinstance(e, ValidationError):
        return "; ".join(f"{'.'.join(map(str, err['loc'])) or 'config'}: {err['msg']}" for err in e.errors())
    return e.args[0] if e.args else str(e)


def plan_experiment(tool: str | None, preset: str | None, params: dict[str, Any], *, settings, lang: str,
                    unsupported: list[str] | tuple[str, ...] = (), explicit: bool = False,
                    policy=None) -> ExperimentPlan:
    """Raises PlanRejected (unknown tool, parameters the tool does not have in a /run command,
    invalid values, a config that cannot fit in memory; with the course's `policy`
    (tutor.courses.policy.CoursePolicy): a graded homework configuration before its deadline,
    a run over the student's weekly budget)."""
    from tools.registry import TOOLS, get_tool
    from tutor.agent.router import filter_params
    from tutor.jobs.service import TooBig, check_fits

    if tool not in TOOLS:
        raise PlanRejected("unknown_tool", say("unknown_tool", lang, tool=tool, tools=", ".join(TOOLS)))
    entry = get_tool(tool)
    kept, unknown = filter_params(tool, params or {})
    if unknown and explicit:
        raise PlanRejected("bad_parameters", say("no_such_params", lang, tool=tool, names=", ".join(unknown),
                                                 fields=", ".join(entry.config_cls.model_fields)))
    preset = preset or settings.default_preset
    try:
        cfg = entry.make_config(preset, kept)
    except (ValidationError, KeyError, ValueError) as e:
        raise PlanRejected("bad_parameters", say("cannot_run", lang, tool=tool, detail=validation_text(e))) from None
    on_gpu = gpu_available() and cfg.device != "cpu"
    try:
        cost = check_fits(entry, cfg, on_gpu, settings)
    except TooBig as e:
        raise PlanRejected("too_big", say("too_big", lang, tool=tool, need=e.need, params=e.params, limit=e.limit,
                                          what=e.what)) from None
    seconds = cost.seconds(on_gpu)
    spec = entry.spec
    main = spec.metric_for(cfg.model_dump())
    plan = ExperimentPlan(tool=tool, preset=preset, config=cfg.model_dump(mode="json"), estimate_s=seconds,
                          memory_bytes=cost.memory_bytes, parameters=cost.parameters, on_gpu=on_gpu,
                          needs_confirmation=seconds > settings.confirm_above_s,
                          unsupported=list(unsupported) + [u for u in unknown if not explicit],
                          measures=[main.name(lang) if main.name(lang) == main.key else f"{main.name(lang)} ({main.key})"])
    return policy.review(plan, lang) if policy is not None else plan


def cost_text(plan: ExperimentPlan, lang: str) -> str:
    """"3 мин" or, with a course budget, "3 мин, 12 % вашего недельного лимита"."""
    text = duration(plan.estimate_s, lang)
    if plan.budget_share is not None:
        share = f"{plan.budget_share:.0f}" if plan.budget_share >= 1 else f"{plan.budget_share:.1f}"
        text += ", " + say("budget_share", lang, share=share)
    return text


def where(plan: ExperimentPlan, lang: str) -> str:
    return say("on_gpu" if plan.on_gpu else "on_cpu", lang)


def describe_plans(plans: list[ExperimentPlan], lang: str) -> str:
    """The confirmation question for one or several planned runs."""
    if len(plans) == 1:
        p = plans[0]
        text = say("confirm_one", lang, tool=p.tool, preset=p.preset, where=where(p, lang),
                   duration=cost_text(p, lang), config=p.short_config())
    else:
        total = sum(p.estimate_s for p in plans)
        lines = [say("confirm_many", lang, n=len(plans), duration=duration(total, lang))]
        lines += [f"- {p.tool} ({p.preset}, {where(p, lang)}, ~{cost_text(p, lang)}): {p.short_config()}"
                  for p in plans]
        text = "\n".join(lines)
    return text + "\n" + unsupported_note(plans, lang) + say("confirm_ask", lang)


def unsupported_note(plans: list[ExperimentPlan], lang: str) -> str:
    names = list(dict.fromkeys(u for p in plans for u in p.unsupported))
    return say("unsupported_named", lang, tool=plans[0].tool, names=", ".join(names)) + "\n" if names else ""


def sweep_params(params: dict[str, Any], sweep: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """One params dict per value of the (single) swept field."""
    if not sweep:
        return [dict(params)]
    field, values = next(iter(sweep.items()))
    return [{**params, field: v} for v in values]
