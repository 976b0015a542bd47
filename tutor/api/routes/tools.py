"""GET /v1/tools: every experiment tool with its Config JSON schema and presets."""

from __future__ import annotations

from fastapi import APIRouter

from tutor.api.deps import PrincipalDep
from tutor.api.schemas import ERRORS, ToolInfo

router = APIRouter(prefix="/v1", tags=["tools"])


@router.get("/tools", response_model=list[ToolInfo], responses=ERRORS, summary="List experiment tools and their config schemas")
async def list_tools(principal: PrincipalDep) -> list[ToolInfo]:
    from tools.registry import TOOLS

    return [ToolInfo(name=n, description=e.description, metric=e.metric().key, presets=e.presets,
                     config_schema=e.config_cls.model_json_schema()) for n, e in TOOLS.items()]
