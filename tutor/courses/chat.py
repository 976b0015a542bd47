"""`/course [ID]` in a chat: show the chat's course, or bind the chat to another one.

An account that belongs to a course (a student or staff key or UI user, a bot key created
with --course) cannot switch: its course is the staff's decision. A chat of an unbound bot
(a Telegram group of one course's students) or an admin picks its course here; the choice
is stored on the thread and applies from the next message on.
"""

from __future__ import annotations

from tutor.agent.messages import say
from tutor.courses import is_course_id


def course_command(ctx, arg: str, lang: str) -> tuple[str, str | None]:
    """(reply, error code or None)."""
    courses = ctx.services.courses
    current = courses.find(ctx.course) or courses.get(courses.demo_id)
    wanted = (arg or "").split()[0].lower() if (arg or "").strip() else ""
    if not wanted or wanted == current.id:
        return say("course_current", lang, name=current.name, course=current.id), None
    if ctx.course_bound:
        return say("course_bound", lang, course=current.id), "course_bound"
    target = courses.find(wanted) if is_course_id(wanted) else None
    if target is None:
        return say("course_unknown", lang, course=wanted[:40]), "course_not_found"
    ctx.services.threads.update(ctx.thread_id, course=target.id)
    ctx.course, ctx._policy = target.id, None  # the turn's final event names the chat's new course
    return say("course_set", lang, name=target.name, course=target.id), None
