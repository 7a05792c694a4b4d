"""Filter values and cursors are ASCII (issue 15): Python's int() reads a full-width digit as a
digit, PostgreSQL does not, so `version=eq.` and U+FF11 was accepted; now it is a 400 like any
bad value."""

from __future__ import annotations

import httpx
import pytest

from tests.servers import RunningServer
from tests.sse import stream_url
from tests.support import World

FULL_WIDTH_ONE = "\uff11"
ARABIC_INDIC_ONE = "\u0661"


def stream_status(server: RunningServer, world: World, **kwargs: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.token(world.agent)}"}
    headers |= kwargs.pop("headers", {})  # type: ignore[arg-type]
    with httpx.stream(
        "GET", stream_url(server.url, world.topic), headers=headers, timeout=10, **kwargs
    ) as response:
        if response.status_code != 200:
            response.read()  # the JSON error
        return response


@pytest.mark.parametrize(
    "value",
    [FULL_WIDTH_ONE, f"1{FULL_WIDTH_ONE}", ARABIC_INDIC_ONE, f"-{FULL_WIDTH_ONE}"],
)
def test_an_integer_filter_value_of_non_ascii_digits_is_a_400(
    live_server: RunningServer, world: World, value: str
) -> None:
    response = stream_status(
        live_server, world, params={"on": f"UPDATE:public.ticket_notes:version=eq.{value}"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_subscription"


def test_an_in_list_with_a_non_ascii_digit_is_a_400(
    live_server: RunningServer, world: World
) -> None:
    response = stream_status(
        live_server,
        world,
        params={"on": f"UPDATE:public.ticket_notes:version=in.(1,{FULL_WIDTH_ONE})"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_subscription"


def test_a_non_ascii_uuid_filter_value_is_a_400(live_server: RunningServer, world: World) -> None:
    value = str(world.thread).replace("0", "\uff10")  # full-width zeros
    response = stream_status(
        live_server, world, params={"on": f"*:public.ticket_notes:thread_id=eq.{value}"}
    )
    assert response.status_code == 400


def test_ascii_digits_are_still_accepted(live_server: RunningServer, world: World) -> None:
    response = stream_status(
        live_server, world, params={"on": "UPDATE:public.ticket_notes:version=gte.1"}
    )
    assert response.status_code == 200


def test_a_last_event_id_of_non_ascii_digits_is_a_400(
    live_server: RunningServer, world: World
) -> None:
    response = stream_status(
        live_server, world, params={"last_event_id": f"{FULL_WIDTH_ONE}-{FULL_WIDTH_ONE}"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_last_event_id"
