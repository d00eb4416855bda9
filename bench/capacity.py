"""A capacity model of the meta server (issue 18), from the CPU time per request that
bench/metaserver.py measures in the same run: requests per item, devices per replica core,
database writes per second per thousand devices, what a network of a million devices needs, and
the boot storm after a regional power cut.

The assumptions are written beside the figures; every cost is a measured one, nothing else is
taken from elsewhere."""
from bench.report import Section

ITEM_S = 210.0        # s an item plays: a 3.5 minute song
TOKEN_TTL = 3600.0    # s a login token lives (settings.token_ttl): one login an hour
BUSY = 0.7            # of a core a replica is planned to use (the rest: bursts, GC, probes)
NETWORK = 1_000_000   # devices
STORM_S = 600.0       # s within which every device of the network should be back playing
# database statements (writes) a device causes (db/devices.py, db/logins.py, db/activity.py)
REPORT_WRITES = 4     # INSERT reports, device_activity's update, the position's UPDATE, the
                      # "now playing" row written with it: one transaction
LOGIN_WRITES = 6      # the challenge's nonce INSERT, its DELETE, then DELETE of failures, the
                      # token INSERT, the firmware UPDATE, login_known's upsert (autocommit each)


def section(us, rps):
    """us: {"next", "next_pg", "next_pg_db", "challenge", "login", "report", "report_pg"}: server
    CPU µs per request, measured; rps: the same keys' requests per second."""
    per_item = us["next"] + us["report"]            # µs a device costs per item
    per_login = us["challenge"] + us["login"]
    device_us_s = per_item / ITEM_S + per_login / TOKEN_TTL   # µs of CPU per device per second
    per_core = BUSY * 1e6 / device_us_s
    requests_s = NETWORK * (2 / ITEM_S + 2 / TOKEN_TTL)
    cores = NETWORK * device_us_s / 1e6 / BUSY
    pg_item = us["next_pg"] + us["report_pg"]
    pg_cores = NETWORK * (pg_item / ITEM_S + per_login / TOKEN_TTL) / 1e6 / BUSY
    report_tx_k = 1000 / ITEM_S                        # report transactions / s / 1000 devices
    writes_k = 1000 * REPORT_WRITES / ITEM_S + 1000 * LOGIN_WRITES / TOKEN_TTL
    pg_tx_s = rps["report_pg"]                         # one replica's reports/s on PostgreSQL
    pg_busy = pg_tx_s * us["report_pg"] / 1e6          # of its core it used meanwhile
    storm_us = NETWORK * (per_login + us["next_pg_db"] + us["report_pg"])
    storm_cores = storm_us / 1e6 / STORM_S / BUSY
    storm_writes_s = NETWORK * (LOGIN_WRITES + REPORT_WRITES) / STORM_S

    sec = Section("Capacity model (issue 18), from this run's CPU per request")
    sec.table(("figure", "value", "from"), [
        ("requests per item (a device without a cache)", "2 (`GET /next?pos=N`, `POST /report`)"
         " + 2 per hour (challenge, login)", "the protocol; a device with a cache asks a horizon"
         " and sends a report batch every 16 to 32 items instead (section 'Meta server bytes')"),
        ("server CPU per item", "%.0f µs" % per_item, "next %.0f + report %.0f µs" % (
            us["next"], us["report"])),
        ("server CPU per login", "%.0f µs" % per_login, "challenge %.0f + login %.0f µs" % (
            us["challenge"], us["login"])),
        ("devices per replica core (SQLite, at %.0f %% busy)" % (100 * BUSY), "%s" % format(int(per_core), ","),
         "items of %.0f s, a login an hour: %.2f µs of CPU per device per second" % (ITEM_S, device_us_s)),
        ("database writes per second per 1,000 devices", "%.1f statements (%.1f report"
         " transactions)" % (writes_k, report_tx_k), "%d writes per report, %d per login" % (
             REPORT_WRITES, LOGIN_WRITES)),
        ("a network of 1,000,000 devices: requests/s", "%s" % format(int(requests_s), ","), "2 per item, 2 per hour"),
        ("... replica cores (SQLite costs / PostgreSQL costs)", "%.1f / %.1f" % (cores, pg_cores),
         "at %.0f %% busy; more than one replica needs PostgreSQL" % (100 * BUSY)),
        ("... database", "%s report transactions/s, %s statements/s" % (
            format(int(NETWORK * report_tx_k / 1000), ","), format(int(NETWORK * writes_k / 1000), ",")),
         "one replica took %s reports/s on PostgreSQL here (%.0f µs of its CPU each)" % (
             format(int(pg_tx_s), ","), us["report_pg"])),
        ("boot storm: every device back within %.0f s" % STORM_S, "%.1f replica cores, %s writes/s"
         % (storm_cores, format(int(storm_writes_s), ",")),
         "each device: challenge, login, a `next` read from the database (PostgreSQL), a report"),
    ])
    sec.figures.update({"devices_per_core": per_core, "cores_1m": cores, "pg_cores_1m": pg_cores,
                        "writes_per_s_per_1000": writes_k, "storm_cores": storm_cores})
    sec.note(
        "Reading it: a replica's core spends %.0f µs per item on a device, so at %.0f s an item "
        "one core serves about %s playing devices, and a million devices need %.1f such cores' "
        "worth (PostgreSQL's costs: %.1f) spread over replicas behind nginx (README, 'When one machine "
        "is not enough'). The database then takes a report transaction per item per device: "
        "%s a second for a million devices, which one PostgreSQL server must commit (this run "
        "measured %s reports/s through one replica, using %.0f %% of its core: the rest of the "
        "time it waited for PostgreSQL, whose write transactions are serial (db/postgres.py), "
        "so the database, not the replicas, is what a million devices press on first). The boot storm after a regional power cut is the "
        "heaviest minute: every device logs in, reads its position from the database (what a "
        "replica holds is gone after a restart) and reports, %s writes a second if all come "
        "back within %.0f s; devices retry with growing, jittered back-offs (firmware "
        "`player.Player.backoff`) when refused, so a smaller fleet of replicas spreads the storm "
        "over more time instead of failing. `make bench-load` runs a real boot storm of 2,000 "
        "devices against one process and against two replicas on PostgreSQL." % (
            per_item, ITEM_S, format(int(per_core), ","), cores, pg_cores,
            format(int(NETWORK * report_tx_k / 1000), ","), format(int(pg_tx_s), ","),
            100 * pg_busy, format(int(storm_writes_s), ","), STORM_S))
    return sec
