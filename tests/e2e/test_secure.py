"""Secure items end to end on real processes, under micropython (simulator.devices.HEAP, .mpy) and CPython:
encrypted, partial, and encrypted+partial items decrypt byte-identical, with and without a
failover mid-stream; a ciphertext altered on one file server is caught; no key, IV or piece
appears in any log of the run."""
import base64
import glob
import os

import pytest

from tests.e2e.conftest import INTERPRETERS, assert_delivered, play

pytestmark = pytest.mark.timeout(180)

SECURE = ("vault.wav", "sealed.wav", "partial.wav")


def secure_items(net, played):
    return {name: played.item(net, name) for name in SECURE}


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_secure_items_decrypt_byte_identical_with_a_failover_mid_stream(network_factory, interpreter):
    net = await network_factory(faults=("secure-cut", "refused"))
    played = await play(net, interpreter)
    assert played.rc == 0, played.console()
    assert_delivered(net, played)        # every sink file equals its original, secure ones too
    items = secure_items(net, played)
    assert all(ev["secure"] == 1 and ev["verified"] == 1 for ev in items.values()), items
    # vault.wav: primary B cuts the connection mid-stream; the alternate continues at the block
    # boundary reached (a Range request), and the CBC state carries over
    vault = items["vault.wav"]
    assert net.server_name(vault["src"]) == "ABC" and vault["resumed"] == 1 and vault["failovers"] == 1
    (fail,) = played.fails(net, "vault.wav")
    assert fail["why"].startswith("dropped at ") and 0 < fail["at"] and fail["at"] % 16 == 0
    ranges = [r for r in net.proxies["ABC"].requests if r["path"].endswith("/vault.wav")]
    assert ranges and ranges[0]["range"] == "bytes=%d-" % fail["at"]
    # sealed.wav: primary C refuses; the alternate serves it whole
    assert net.server_name(items["sealed.wav"]["src"]) == "ABC"
    # partial.wav (a withheld piece, not encrypted): straight from primary A
    assert net.server_name(items["partial.wav"]["src"]) == "A" and played.fails(net, "partial.wav") == []
    plain = [ev for ev in played.items if not ev["secure"]]
    assert len(plain) == len(net.media) - len(SECURE)
    scan_logs_for_secrets(net)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_a_ciphertext_altered_on_one_file_server_is_caught_and_the_next_source_used(network_factory, interpreter):
    net = await network_factory(faults=())
    stored = os.path.join(net.workdir, "servers", "B", "music", "b", "vault.wav")
    with open(stored, "r+b") as f:
        f.seek(50_000)
        b = f.read(1)
        f.seek(50_000)
        f.write(bytes([b[0] ^ 0x20]))
    played = await play(net, interpreter, items=8)   # through vault.wav
    assert played.rc == 0, played.console()
    vault = played.item(net, "vault.wav")
    assert vault["verified"] == 1 and net.server_name(vault["src"]) == "ABC"
    assert [f["why"] for f in played.fails(net, "vault.wav")] == ["sha256"]
    reports = [r for r in await net.reports("dev1") if r["media"] == net.media_ids["vault.wav"]]
    assert reports[-1]["status"] == "played" and reports[-1]["errors"][0][1] == "sha256"


def scan_logs_for_secrets(net):
    secrets = []
    for m in net.media:
        sec = (m.get("stored") or {}).get("secure")
        if not sec:
            continue
        piece = base64.b64decode(sec["piece"])
        if sec["encrypted"]:
            secrets += [sec["key"], sec["iv"]]
        if piece:
            secrets += [sec["piece"][:24], piece[:16].hex()]
    assert len(secrets) >= 6
    logs = glob.glob(os.path.join(net.workdir, "logs", "*.log")) + \
        glob.glob(os.path.join(net.workdir, "devices", "*", "*.log"))
    assert any(p.endswith("meta.log") for p in logs) and len(logs) >= 4
    for path in logs:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read().lower()
        for s in secrets:
            assert s.lower() not in text, "a secret appears in %s" % path


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_a_key_answer_over_the_devices_key_buffer_fails_the_item_and_the_program_moves_on(
        network_factory, interpreter):
    # key_buffer 96 takes no withheld piece (it takes key_buffer - 96 bytes of one): the items
    # with a piece can never play on this device; each is reported failed after three answers
    net = await network_factory(faults=())
    played = await play(net, interpreter, key_buffer=96)
    assert played.rc == 0, played.console()
    assert len(played.items) == len(net.media)      # every item had its turn: nothing stalled
    for name in ("vault.wav", "partial.wav"):
        ev = played.item(net, name)
        assert ev["status"] == "failed", ev
        (fail,) = played.fails(net, name)
        assert fail["src"] == "key" and fail["why"] == "bad response: key answer over 96 bytes"
        reports = [r for r in await net.reports("dev1") if r["media"] == net.media_ids[name]]
        assert reports[-1]["status"] == "failed"
        assert reports[-1]["errors"] == [["key", "bad response: key answer over 96 bytes"]]
    assert played.item(net, "sealed.wav")["verified"] == 1   # no piece: its key answer fits
