"""Secure items on the meta server: records with a "secure" part, keys sealed at rest under the
master key, and POST /api/v1/media/<id>/key handing them out wrapped, only to an entitled
device, once per nonce, every request recorded."""

import base64
import hashlib
import hmac
import logging
import secrets

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from host_server.model import catalog, sealing
from host_server.app import init_app
from host_server.db import Database
from host_server.model.errors import Invalid
from hostutil import SECRET, bearer, dump, login, media_doc, sql

KEY = bytes(range(16))
IV = bytes(range(16, 32))
PIECE = bytes(range(256)) * 16          # 4096 bytes
PLAIN_SIZE = 100_000
SIZE = (PLAIN_SIZE // 16 + 1) * 16


def secure_doc(n, **sec):
    part = {"encrypted": True, "key": KEY.hex(), "iv": IV.hex(), "plain_size": PLAIN_SIZE,
            "plain_sha256": "cd" * 32, "piece_offset": 4096,
            "piece": base64.b64encode(PIECE).decode()}
    part.update(sec)
    return media_doc(n, size=SIZE, secure=part)


def unwrap(secret, nonce, answer):
    """The device's side, written from PROTOCOL.md with the cryptography package."""
    k = hmac.new(secret.encode(), f"wrap\0{nonce}\0".encode(), hashlib.sha256).digest()
    body, tag = answer[:-32], answer[-32:]
    assert hmac.compare_digest(hmac.new(k[16:], body, hashlib.sha256).digest(), tag)
    dec = Cipher(algorithms.AES(k[:16]), modes.CBC(body[:16])).decryptor()
    unpad = padding.PKCS7(128).unpadder()
    plain = unpad.update(dec.update(body[16:]) + dec.finalize()) + unpad.finalize()
    return plain[:16], plain[16:32], plain[32:]


def key_request(secret, device, media_id, nonce=None):
    nonce = nonce or secrets.token_hex(16)
    return {"nonce": nonce, "proof": sealing.key_proof(secret, device, media_id, nonce)}


@pytest.fixture
def master_file(tmp_path):
    path = str(tmp_path / "master.key")
    sealing.new_master_key_file(path)
    return path


@pytest.fixture
async def secure_seeded(db_path, clock, master_file):
    """Media 1 plain, 2 secure; program "P" (1, 2) for dev1; "Q" (2) assigned to nobody; dev2
    entitled only to "R" (1)."""
    db = await Database(db_path, clock=clock,
                        sealer=sealing.Sealer(sealing.load_master_key(master_file))).connect()
    plain = await db.catalog.add_media(catalog.validate_media(media_doc(1)))
    sec = await db.catalog.add_media(catalog.validate_media(secure_doc(2)))
    await db.catalog.add_program("P", [plain, sec])
    await db.catalog.add_program("Q", [sec])
    await db.catalog.add_program("R", [plain])
    await db.close()
    # the devices as added without a master key: their secrets in clear until a server with
    # the key starts (so that a keyless server can still log them in, and answer 503 for keys)
    db = await Database(db_path, clock=clock).connect()
    await db.devices.add("dev1", "", SECRET)
    await db.devices.add("dev2", "", SECRET)
    await db.devices.assign("dev1", "P", default=True)
    await db.devices.assign("dev2", "R", default=True)
    await db.close()
    return {"plain": plain, "secure": sec}


@pytest.fixture
async def sclient(aiohttp_client, db_path, clock, secure_seeded, master_file):
    return await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock, master_key_file=master_file))


def requests_log(db_path):
    return sql(db_path, "SELECT device, media, status, why FROM key_requests ORDER BY id")


# -- records -------------------------------------------------------------------------------

def test_a_secure_record_is_checked_and_its_compact_document_has_sec_without_secrets():
    rec = catalog.validate_media(secure_doc(2))
    compact = catalog.compact_json(rec)
    assert '"sec":{"enc":1,"plain":100000,"plain_sha256":"' + "cd" * 32 + '","piece":[4096,4096]}' in compact
    for secret in (KEY.hex(), IV.hex(), base64.b64encode(PIECE).decode()[:40]):
        assert secret not in compact


@pytest.mark.parametrize("change,message", [
    ({"key": "00" * 8}, "key must be 32 hex"),
    ({"plain_size": 5}, "is not the AES-CBC size"),
    ({"piece": "not base64!"}, "not valid base64"),
    ({"piece_offset": SIZE - 10}, "inside the stored file"),
    ({"encrypted": False, "key": None, "iv": None, "piece": ""}, "plain_size must equal size"),
    ({"plain_sha256": "xyz"}, "plain_sha256 must be 64 hex"),
])
def test_a_malformed_secure_part_is_refused_naming_the_field(change, message):
    with pytest.raises(Invalid, match=message):
        catalog.validate_media(secure_doc(2, **change))


async def test_storing_secure_media_needs_the_master_key(db_path):
    db = await Database(db_path).connect()
    try:
        with pytest.raises(Invalid, match="master key"):
            await db.catalog.add_media(catalog.validate_media(secure_doc(2)))
        assert (await db.catalog.list_media()) == []   # nothing half-written
    finally:
        await db.close()


async def test_keys_are_sealed_at_rest(db_path, secure_seeded):
    text = dump(db_path).encode()
    blobs = [r[0] for r in sql(db_path, "SELECT sealed FROM media_secrets")]
    assert len(blobs) == 1
    for secret in (KEY, IV, PIECE[:64], KEY.hex().encode(), IV.hex().encode()):
        assert secret not in text and secret not in blobs[0]


def test_a_master_key_file_must_be_64_hex_and_is_never_overwritten(tmp_path, master_file):
    with pytest.raises(sealing.MasterKeyError, match="never overwritten"):
        sealing.new_master_key_file(master_file)
    bad = tmp_path / "bad.key"
    bad.write_text("short\n")
    with pytest.raises(sealing.MasterKeyError, match="64 hex"):
        sealing.load_master_key(str(bad))
    with pytest.raises(sealing.MasterKeyError, match="cannot read"):
        sealing.load_master_key(str(tmp_path / "missing.key"))
    assert sealing.load_master_key(None, environ={}) is None
    assert len(sealing.load_master_key(None, environ={sealing.ENV_FILE: master_file})) == 32


# -- the key endpoint ----------------------------------------------------------------------

async def test_an_entitled_device_gets_key_iv_and_piece_wrapped_for_it(sclient, secure_seeded, db_path):
    sec = secure_seeded["secure"]
    token = await login(sclient)
    resp = await sclient.get("/api/v1/next", headers=bearer(token))
    nxt = await resp.json()
    assert nxt["id"] == secure_seeded["plain"] and "sec" not in nxt
    body = key_request(SECRET, "dev1", sec)
    resp = await sclient.post(f"/api/v1/media/{sec}/key", json=body, headers=bearer(token))
    assert resp.status == 200 and resp.content_type == "application/octet-stream"
    answer = await resp.read()
    assert len(answer) == 96 + len(PIECE)
    for secret in (KEY, IV, PIECE[:32]):
        assert secret not in answer            # never in clear on the wire
    assert unwrap(SECRET, body["nonce"], answer) == (KEY, IV, PIECE)
    with pytest.raises(AssertionError):       # a different nonce's keys do not open it
        unwrap(SECRET, secrets.token_hex(16), answer)
    assert requests_log(db_path) == [("dev1", sec, 200, "")]


async def test_a_replayed_key_request_is_refused(sclient, secure_seeded, db_path):
    sec = secure_seeded["secure"]
    token = await login(sclient)
    body = key_request(SECRET, "dev1", sec)
    assert (await sclient.post(f"/api/v1/media/{sec}/key", json=body, headers=bearer(token))).status == 200
    resp = await sclient.post(f"/api/v1/media/{sec}/key", json=body, headers=bearer(token))
    assert resp.status == 401 and "replayed" in (await resp.json())["error"]
    assert [r[2] for r in requests_log(db_path)] == [200, 401]


async def test_a_device_whose_programs_lack_the_item_gets_403(sclient, secure_seeded, db_path):
    sec = secure_seeded["secure"]
    token = await login(sclient, "dev2")
    resp = await sclient.post(f"/api/v1/media/{sec}/key", json=key_request(SECRET, "dev2", sec),
                              headers=bearer(token))
    assert resp.status == 403
    assert requests_log(db_path) == [("dev2", sec, 403, f"media {sec} is in none of this device's programs")]


async def test_expired_or_forged_tokens_and_bad_proofs_get_401_and_are_recorded(sclient, secure_seeded, clock, db_path):
    sec = secure_seeded["secure"]
    token = await login(sclient)
    forged = await sclient.post(f"/api/v1/media/{sec}/key", json=key_request(SECRET, "dev1", sec),
                                headers=bearer(token[:-4] + "AAAA"))
    assert forged.status == 401
    wrong_secret = await sclient.post(f"/api/v1/media/{sec}/key",
                                      json=key_request("ff" * 16, "dev1", sec), headers=bearer(token))
    assert wrong_secret.status == 401 and "bad proof" in (await wrong_secret.json())["error"]
    clock.advance(3601)
    expired = await sclient.post(f"/api/v1/media/{sec}/key", json=key_request(SECRET, "dev1", sec),
                                 headers=bearer(token))
    assert expired.status == 401
    assert [(r[0], r[2]) for r in requests_log(db_path)] == [(None, 401), ("dev1", 401), (None, 401)]


async def test_plain_or_unknown_items_and_bad_bodies(sclient, secure_seeded):
    token = await login(sclient)
    plain = secure_seeded["plain"]
    resp = await sclient.post(f"/api/v1/media/{plain}/key", json=key_request(SECRET, "dev1", plain),
                              headers=bearer(token))
    assert resp.status == 404 and "not a secure item" in (await resp.json())["error"]
    resp = await sclient.post("/api/v1/media/99/key", json=key_request(SECRET, "dev1", 99),
                              headers=bearer(token))
    assert resp.status == 404
    resp = await sclient.post(f"/api/v1/media/{plain}/key", json={"nonce": "x", "proof": "y"},
                              headers=bearer(token))
    assert resp.status == 400 and "nonce" in (await resp.json())["error"]


async def test_without_the_master_key_the_server_answers_503(aiohttp_client, db_path, clock, secure_seeded, monkeypatch):
    monkeypatch.delenv(sealing.ENV_FILE, raising=False)
    client = await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock))
    token = await login(client)
    sec = secure_seeded["secure"]
    resp = await client.post(f"/api/v1/media/{sec}/key", json=key_request(SECRET, "dev1", sec),
                             headers=bearer(token))
    assert resp.status == 503 and "master key" in (await resp.json())["error"]


async def test_without_the_master_key_the_start_says_what_is_sealed(aiohttp_client, db_path, clock,
                                                                     secure_seeded, monkeypatch, caplog):
    monkeypatch.delenv(sealing.ENV_FILE, raising=False)
    await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock))
    assert "holds sealed secure items but the server was given no master key" in caplog.text


async def test_a_wrong_master_key_stops_the_start_and_changes_nothing(db_path, clock, secure_seeded,
                                                                      tmp_path):
    other = str(tmp_path / "other.key")
    sealing.new_master_key_file(other)
    before = dump(db_path)
    db = Database(db_path, clock=clock, sealer=sealing.Sealer(sealing.load_master_key(other)))
    with pytest.raises(sealing.MasterKeyError, match="does not open the secrets .*media 2.*right --master-key-file"):
        await db.connect()
    await db.close()
    assert dump(db_path) == before          # the devices' clear secrets were not sealed under it
    from hostutil import run_cli
    from simulator.procs import free_port
    proc = run_cli("--master-key-file", other, "serve", "--port", str(free_port()), db=db_path)
    assert proc.returncode != 0 and "right --master-key-file" in proc.stderr


async def test_an_item_sealed_under_another_key_gets_a_clear_503_not_a_500(
        aiohttp_client, db_path, clock, secure_seeded, master_file, tmp_path, caplog):
    other = sealing.Sealer(bytes(32))
    sec = secure_seeded["secure"]
    sha = sql(db_path, f"SELECT sha256 FROM media WHERE id = {sec}")[0][0]
    blob = other.seal(sha, KEY, IV, PIECE)
    db = await Database(db_path, clock=clock).connect()
    third = await db.catalog.add_media(catalog.validate_media(media_doc(3)))
    async with db.transaction() as c:       # a second secure item, as if sealed elsewhere
        await c.execute("INSERT INTO media_secrets (media, encrypted, plain_size, plain_sha256,"
                        " piece_offset, piece_length, sealed) SELECT ?, encrypted, plain_size,"
                        " plain_sha256, piece_offset, piece_length, ? FROM media_secrets"
                        " WHERE media = ?", (third, blob, sec))
        await c.execute("UPDATE media SET sha256 = ? WHERE id = ?", (sha, third))
        await c.execute("INSERT INTO program_items (program, pos, media) SELECT program, 2, ?"
                        " FROM program_items WHERE media = ? LIMIT 1", (third, sec))
    await db.close()
    client = await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock,
                                           master_key_file=master_file))
    token = await login(client)
    resp = await client.post(f"/api/v1/media/{third}/key", json=key_request(SECRET, "dev1", third),
                             headers=bearer(token))
    assert resp.status == 503 and "sealed secrets" in (await resp.json())["error"]
    assert "right --master-key-file" in caplog.text
    assert requests_log(db_path)[-1] == ("dev1", third, 503, "master key mismatch")


async def test_nothing_secret_reaches_the_log(sclient, secure_seeded, caplog):
    caplog.set_level(logging.DEBUG)
    sec = secure_seeded["secure"]
    token = await login(sclient)
    body = key_request(SECRET, "dev1", sec)
    assert (await sclient.post(f"/api/v1/media/{sec}/key", json=body, headers=bearer(token))).status == 200
    text = caplog.text
    assert "key for media" in text
    for secret in (KEY.hex(), IV.hex(), base64.b64encode(PIECE).decode()[:24], body["proof"], token, SECRET):
        assert secret not in text


async def test_key_requests_are_listed_for_the_operator(db_path, secure_seeded, clock):
    db = await Database(db_path, clock=clock).connect()
    try:
        await db.secure.log_key_request("dev1", 2, "127.0.0.1", 403, "not entitled")
        assert (await db.secure.key_requests())[0]["why"] == "not entitled"
    finally:
        await db.close()
