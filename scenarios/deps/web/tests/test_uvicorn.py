import uvicorn


def test_uvicorn_config_loads_an_app():
    async def app(scope, receive, send):  # a minimal ASGI app
        pass

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    config.load()
    assert config.loaded
