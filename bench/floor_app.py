"""The framework floor: the same stack as cvjobs (Starlette on uvicorn with uvloop and
httptools) answering one constant, pre-rendered body to every request. What cvjobs
reaches against this is the share of the framework's speed it keeps."""

from __future__ import annotations

import os
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = open(os.environ["FLOOR_BODY"], "rb").read()  # noqa: SIM115 - read once at start
MEDIA = os.environ.get("FLOOR_MEDIA", "application/json")


async def constant(request: Request) -> Response:
    return Response(BODY, media_type=MEDIA)


app = Starlette(routes=[Route("/{path:path}", constant, methods=["GET", "POST"])])

if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        loop="uvloop",
        http="httptools",
        access_log=False,
    )
