"""POST /v1/search: hybrid retrieval over the course materials."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from tutor.api.deps import PrincipalDep, course_binding
from tutor.api.errors import APIError
from tutor.api.schemas import ERRORS, SearchRequest, SearchResponse

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", response_model=SearchResponse, responses=ERRORS, summary="Search the course materials",
             description="The caller's course: the shared materials plus the course's own uploads (admins and unbound "
                         "bots: the demo course).")
async def search(body: SearchRequest, principal: PrincipalDep, request: Request) -> SearchResponse:
    try:
        index = request.app.state.tutor.services.index_for(course_binding(request, principal))
    except FileNotFoundError as e:
        raise APIError(503, "index_unavailable", str(e))
    hits = await asyncio.to_thread(index.search, body.query, body.k, body.mode)
    return SearchResponse(query=body.query, hits=[h.to_json() for h in hits])
