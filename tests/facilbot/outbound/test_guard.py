"""The SSRF guard: every kind of address refused, names resolved (through a resolver the test
injects) and checked, and the request sent to the address that was checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from facilbot.outbound.guard import Refused, resolve_target
from facilbot.store.db import Database
from tests.support.api import open_api, service_settings
from tests.support.receiver import receiving

from .conftest import Hooks

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.9", "private"),
    ("192.168.1.1", "private"),
    ("fd12:3456::1", "private"),
    ("100.64.0.1", "private"),
    ("169.254.10.20", "link-local"),
    ("fe80::1", "link-local"),
    ("224.0.0.251", "multicast"),
    ("ff02::1", "multicast"),
    ("169.254.169.254", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("100.100.100.200", "metadata"),
    ("168.63.129.16", "metadata"),
    ("0.0.0.0", "unspecified"),
    ("::ffff:127.0.0.1", "loopback"),
    ("240.0.0.1", "reserved"),
]


def resolving(*addresses: str):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


@pytest.mark.parametrize(("address", "kind"), REFUSED)
async def test_each_kind_of_address_is_refused(address: str, kind: str) -> None:
    literal = f"[{address}]" if ":" in address else address
    with pytest.raises(Refused, match=kind):
        await resolve_target(f"http://{literal}/hook", allow_private=False, production=False)
    # ... and a name that resolves to it.
    with pytest.raises(Refused, match=kind):
        await resolve_target(
            "https://hooks.example.com/x",
            allow_private=False,
            production=False,
            resolver=resolving("93.184.216.34", address),
        )


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", True),
        ("10.0.0.7", True),
        ("::1", True),
        ("169.254.169.254", False),
        ("169.254.3.4", False),
        ("224.0.0.1", False),
    ],
)
async def test_allow_private_opens_loopback_and_private_only(address: str, allowed: bool) -> None:
    resolve = resolving(address)
    if allowed:
        target = await resolve_target(
            "http://hooks.internal:8080/x", allow_private=True, production=False, resolver=resolve
        )
        assert target.address == address
    else:
        with pytest.raises(Refused):
            await resolve_target(
                "http://hooks.internal/x", allow_private=True, production=False, resolver=resolve
            )


async def test_the_request_goes_to_the_checked_address_with_the_name_kept() -> None:
    target = await resolve_target(
        "https://hooks.example.com:8443/in?x=1",
        allow_private=False,
        production=True,
        resolver=resolving("93.184.216.34"),
    )
    assert target.url == "https://93.184.216.34:8443/in?x=1"
    assert target.host_header == "hooks.example.com:8443"
    assert target.sni_hostname == "hooks.example.com"
    six = await resolve_target(
        "http://v6.example.com/",
        allow_private=False,
        production=False,
        resolver=resolving("2606:2800:220:1::1"),
    )
    assert six.url == "http://[2606:2800:220:1::1]/"


async def test_production_wants_https() -> None:
    with pytest.raises(Refused, match="https"):
        await resolve_target(
            "http://hooks.example.com/",
            allow_private=False,
            production=True,
            resolver=resolving("93.184.216.34"),
        )


async def test_a_name_resolving_to_a_private_address_is_never_called(
    store: Database, tmp_path: Path
) -> None:
    """End to end: the worker resolves the endpoint's name, refuses it, sends nothing; with
    private addresses allowed it connects to the checked address under the name."""
    async with receiving() as receiver:
        name = f"http://hooks.example.test:{receiver.port}/hook"
        for allow, delivered in ((False, False), (True, True)):
            settings = service_settings(tmp_path, webhooks_allow_private=allow)
            async with open_api(
                settings, store, kind=Hooks, outbound_resolver=resolving("127.0.0.1")
            ) as hooks:
                endpoint = await hooks.add_endpoint(name, event_types=["session.attached"])
                receiver.secrets = [endpoint["secret"]]
                await hooks.attach(await hooks.upload(), meeting_ref=f"sim-{allow}")
                await hooks.deliver()
                [delivery] = await hooks.deliveries(endpoint["id"])
                if delivered:
                    assert delivery["status"] == "delivered"
                    assert (
                        receiver.received[-1].headers["host"]
                        == f"hooks.example.test:{receiver.port}"
                    )
                    assert receiver.received[-1].verified
                else:
                    assert delivery["last_outcome"] == "refused"
                    assert "127.0.0.1, a loopback address" in delivery["last_error"]
                    assert receiver.received == []
                await hooks.client.delete(
                    f"/outbound/endpoints/{endpoint['id']}", headers=hooks.auth()
                )
