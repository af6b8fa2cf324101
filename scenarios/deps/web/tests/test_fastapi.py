import asyncio

from fastapi import FastAPI
from pydantic import BaseModel


class Item(BaseModel):
    name: str
    size: int


def test_fastapi_routes_and_schema():
    app = FastAPI()

    @app.get("/items/{name}")
    async def read(name: str) -> Item:
        return Item(name=name, size=len(name))

    schema = app.openapi()
    assert "/items/{name}" in schema["paths"]
    route = next(r for r in app.routes if getattr(r, "path", "") == "/items/{name}")
    assert asyncio.run(route.endpoint("venv")).size == 4
