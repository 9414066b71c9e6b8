"""A FastAPI app whose endpoints are guarded by Entitle. Run it next to `entitle serve`:

ENTITLE_URL=http://127.0.0.1:8000 ENTITLE_TOKEN=<key> uvicorn fastapi_app:app --port 8080
curl -H 'x-tenant: acme' localhost:8080/sso   # 403 {"error": "access_denied", ...} until acme has SSO
"""

import os

from fastapi import Depends, FastAPI, Request

from entitle_client import AsyncEntitleClient, Decision, Subject
from entitle_client.fastapi import add_access_denied_handler, require_feature

entitle = AsyncEntitleClient(os.environ["ENTITLE_URL"], os.environ["ENTITLE_TOKEN"], fallback={"sso": False})


def tenant(request: Request) -> Subject:
    return Subject(tenant_key=request.headers.get("x-tenant"))


app = FastAPI()
add_access_denied_handler(app)


@app.get("/sso", dependencies=[Depends(require_feature("sso", client=entitle, subject=tenant))])
async def sso() -> dict[str, str]:
    return {"sso": "configured"}


@app.post("/search")
async def search(
    call: Decision = Depends(require_feature("api-calls", 1, client=entitle, subject=tenant, consume=True)),
) -> dict[str, int | None]:
    return {"remaining": call.remaining}
