import httpx


def test_httpx_with_a_mock_transport():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"path": request.url.path})

    with httpx.Client(transport=httpx.MockTransport(handler), base_url="http://test") as client:
        assert client.get("/cache").json() == {"path": "/cache"}
