"""Secrets at rest: the database files are readable by their owner only, whatever the umask."""

import os
import stat

from host_server.db import Database


async def test_the_database_and_its_wal_and_shm_files_are_private(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "meta.db"
        db = await Database(str(path)).connect()
        try:
            await db.devices.add("dev1", "", "00" * 16)   # a write: the -wal and -shm exist now
            files = [tmp_path / n for n in ("meta.db", "meta.db-wal", "meta.db-shm")]
            assert all(f.exists() for f in files)
            for f in files:
                assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
        finally:
            await db.close()
    finally:
        os.umask(old)


async def test_device_secrets_are_sealed_under_the_master_key(tmp_path, aiohttp_client):
    from host_server.app import init_app
    from host_server.model import sealing
    from hostutil import SECRET, dump, login

    path, key = str(tmp_path / "meta.db"), str(tmp_path / "master.key")
    sealing.new_master_key_file(key)
    db = await Database(path).connect()            # no key: kept in clear (the CLI warns)
    await db.devices.add("dev1", "", SECRET)
    await db.close()
    assert SECRET in dump(path)
    client = await aiohttp_client(init_app(probe_interval=0, db=path, master_key_file=key))
    assert SECRET not in dump(path)                # sealed when the server starts with a key
    await login(client)                            # and the device logs in as before
    await client.close()
    sealer = sealing.Sealer(sealing.load_master_key(key))
    db = await Database(path, sealer=sealer).connect()
    await db.devices.add("dev2", "", "cd" * 16)
    await db.close()
    assert "cd" * 16 not in dump(path)
    # without the key, a login is a clear 503 (the log says why), not a traceback
    keyless = await aiohttp_client(init_app(probe_interval=0, db=path))
    resp = await keyless.post("/api/v1/login/challenge", json={"device": "dev2"})
    nonce = (await resp.json())["nonce"]
    from host_server.services.auth import proof
    resp = await keyless.post("/api/v1/login", json={"device": "dev2", "nonce": nonce,
                                                     "proof": proof("cd" * 16, "dev2", nonce)})
    assert resp.status == 503 and "sealed" in (await resp.json())["error"]


def test_adding_a_device_without_a_master_key_warns(tmp_path):
    from hostutil import run_cli
    proc = run_cli("add-device", "dev1", db=str(tmp_path / "m.db"), check=0)
    assert "kept in the database in clear" in proc.stderr


async def test_file_servers_signing_secrets_kept_in_clear_are_sealed_once_there_is_a_key(tmp_path):
    from host_server.model import sealing
    from hostutil import dump

    path, key = str(tmp_path / "meta.db"), str(tmp_path / "master.key")
    sealing.new_master_key_file(key)
    secret = "signing-secret-kept-in-clear"
    db = await Database(path).connect()                 # no key: stored as given
    owner = await db.owners.add("Label", "ab" * 32)
    await db.signing.require(owner, "http://files.example.org:8080", secret)
    await db.close()
    assert secret in dump(path)
    sealer = sealing.Sealer(sealing.load_master_key(key))
    db = await Database(path, sealer=sealer).connect()  # a server started with the key
    try:
        assert secret not in dump(path)
        assert await db.signing.secrets() == {"http://files.example.org:8080": secret}
    finally:
        await db.close()
