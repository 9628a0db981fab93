"""The framework floor: the same stack as cvjobs (Starlette on granian or uvicorn, with
uvloop) answering one constant, pre-rendered body to every request. What cvjobs
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
    # python floor_app.py PORT [uvicorn|granian]: the same server cvjobs runs on.
    port = int(sys.argv[1])
    server = sys.argv[2] if len(sys.argv) > 2 else "uvicorn"
    if server == "granian":
        from pathlib import Path

        from granian import Granian
        from granian.constants import Interfaces, Loops

        Granian(
            "floor_app:app",
            address="127.0.0.1",
            port=port,
            interface=Interfaces.ASGI,
            loop=Loops.uvloop,
            log_enabled=False,
            working_dir=Path(__file__).parent,
        ).serve()
    else:
        uvicorn.run(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            loop="uvloop",
            http="httptools",
            access_log=False,
        )
