"""bench/common.py's latency proxy holds each S3 request once, as its docstring and issue 14 say (25 ms
per request): botocore sends a PutObject with ``Expect: 100-continue``, and the body it sends after
moto's interim ``100 Continue`` (RFC 9110 section 15.2) belongs to the same request."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from services.aws.clients import make_s3_client

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _bench_common() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_common", BENCH / "common.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def proxied() -> Iterator[tuple[Any, Any]]:
    common = _bench_common()
    moto, endpoint = common.start_moto_server()
    host, port = endpoint.removeprefix("http://").split(":")
    proxy = common.LatencyProxy(host, int(port), 0.0).start()
    try:
        client = make_s3_client("us-west-2", proxy.url, ("bench", "bench"))
        client.create_bucket(Bucket="proxied", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        yield proxy, client
    finally:
        proxy.stop()
        moto.terminate()
        moto.wait(30)


def test_a_put_with_expect_100_continue_is_held_once(proxied: tuple[Any, Any]) -> None:
    proxy, _ = proxied
    # boto3's defaults, as the notebook's client: botocore asks for 100-continue with every body.
    notebook_client = boto3.client(
        "s3",
        region_name="us-west-2",
        endpoint_url=proxy.url,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    seen: list[object] = []
    notebook_client.meta.events.register(
        "before-send.s3.PutObject", lambda request, **_: seen.append(request.headers.get("Expect"))
    )
    before = proxy.requests

    notebook_client.put_object(Bucket="proxied", Key="a.png", Body=b"x" * 8000)
    notebook_client.put_object(Bucket="proxied", Key="b.png", Body=b"y" * 8000)

    assert seen == [b"100-continue", b"100-continue"]  # what makes the interim answer appear
    assert proxy.requests - before == 2
    assert notebook_client.get_object(Bucket="proxied", Key="b.png")["Body"].read() == b"y" * 8000


def test_tunebots_client_puts_an_image_in_one_exchange(proxied: tuple[Any, Any]) -> None:
    proxy, client = proxied
    seen: list[object] = []
    client.meta.events.register(
        "before-send.s3.PutObject", lambda request, **_: seen.append(request.headers.get("Expect"))
    )
    before = proxy.requests

    client.put_object(Bucket="proxied", Key="c.png", Body=b"z" * 8000)

    assert seen == [None] and proxy.requests - before == 1
    assert client.get_object(Bucket="proxied", Key="c.png")["Body"].read() == b"z" * 8000


def test_interim_answers_alone_are_not_the_answer() -> None:
    final_answer_in = _bench_common().final_answer_in

    assert not final_answer_in(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert not final_answer_in(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n")
    assert final_answer_in(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert final_answer_in(b"HTTP/1.1 200 OK\r\n\r\n")
    assert final_answer_in(b"<ListBucketResult>...")  # more of an answer already begun
