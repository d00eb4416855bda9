"""The store-ahead parts of the firmware under CPython: the cache folder (cache.py), the report
queue (reportq.py) and the `cache` object of the config (devconfig.py).

Pinned down: what a power cut leaves (a .part, a .src without its entry, a cut last report line)
is cleaned away when the folder or queue is opened and never counted; an entry gets its name
only on commit; eviction never touches the kept entries and says when an entry cannot fit;
Stored reads from an offset and at most n bytes; the report queue keeps its place across
restarts (off), skips lines that are not JSON, drops a partly applied batch's delivered
reports only, is bounded; and the config's `cache` object gets its defaults, its bad values
refused naming the field, its typos warned about with the near key."""
import hashlib
import json
import os

import pytest

import cache
import devconfig
import reportq


def sha_of(data):
    return hashlib.sha256(data).hexdigest()


def put_entry(c, data, src="http://a/x", errors=()):
    """An entry filled and committed the way filler.py does it; its sha."""
    sha = sha_of(data)
    with c.part(sha) as f:
        f.write(data)
    c.commit(sha, len(data), src, list(errors))
    return sha


# -- cache.Cache ------------------------------------------------------------------------------

def test_cache_start_removes_a_part_and_an_orphan_src_and_finds_whole_entries(tmp_path):
    whole = b"w" * 100
    whole_sha = sha_of(whole)
    cut_sha = sha_of(b"cut")
    orphan_sha = sha_of(b"orphan")
    (tmp_path / whole_sha).write_bytes(whole)
    (tmp_path / (whole_sha + ".src")).write_text('{"src": "http://a/w", "errors": []}')
    (tmp_path / (cut_sha + ".part")).write_bytes(b"c" * 50)   # a power cut mid-write
    (tmp_path / (orphan_sha + ".src")).write_text('{"src": "http://a/o", "errors": []}')
    (tmp_path / "horizon").write_bytes(b"{}")                 # a saved file, not an entry

    c = cache.Cache(str(tmp_path), 10000)

    assert sorted(os.listdir(tmp_path)) == sorted([whole_sha, whole_sha + ".src", "horizon"])
    assert c.size == {whole_sha: 100}
    assert c.has(whole_sha)
    assert not c.has(cut_sha)
    assert not c.has(orphan_sha)
    assert c.used() == 100
    assert c.origin(whole_sha) == ("http://a/w", [])


def test_cache_start_makes_the_folder(tmp_path):
    d = tmp_path / "sd" / "cache"
    d.parent.mkdir()
    c = cache.Cache(str(d) + "/", 100)
    assert d.is_dir()
    assert c.size == {}
    assert c.path("x") == str(d) + "/x"


def test_cache_entry_gets_its_name_only_on_commit(tmp_path):
    c = cache.Cache(str(tmp_path), 10000)
    data = b"0123456789" * 30
    sha = sha_of(data)
    f = c.part(sha)
    f.write(data)
    f.close()
    assert os.path.exists(c.path(sha + ".part"))
    assert not os.path.exists(c.path(sha))
    assert not c.has(sha)
    writes, written = c.writes, c.written

    c.commit(sha, len(data), "http://a/x", ["http://b/x: 404"])

    assert (tmp_path / sha).read_bytes() == data
    assert not os.path.exists(c.path(sha + ".part"))
    assert c.has(sha)
    assert c.size[sha] == len(data)
    assert c.origin(sha) == ("http://a/x", ["http://b/x: 404"])
    assert c.writes > writes
    assert c.written >= written + len(data)
    # and a new Cache on the folder finds it
    again = cache.Cache(str(tmp_path), 10000)
    assert again.size == {sha: len(data)}
    assert again.origin(sha) == ("http://a/x", ["http://b/x: 404"])


def test_cache_origin_of_an_unknown_entry(tmp_path):
    c = cache.Cache(str(tmp_path), 10000)
    assert c.origin(sha_of(b"none")) == (None, [])


def test_cache_abandon_removes_the_part(tmp_path):
    c = cache.Cache(str(tmp_path), 10000)
    sha = sha_of(b"gone")
    with c.part(sha) as f:
        f.write(b"go")
    c.abandon(sha)
    assert os.listdir(tmp_path) == []
    assert not c.has(sha)
    c.abandon(sha)  # nothing left to remove: no error


def test_cache_drop_removes_the_entry_and_its_src(tmp_path):
    c = cache.Cache(str(tmp_path), 10000)
    keep = put_entry(c, b"keep")
    gone = put_entry(c, b"gone")
    c.drop(gone)
    assert not c.has(gone)
    assert c.has(keep)
    assert sorted(os.listdir(tmp_path)) == sorted([keep, keep + ".src"])
    assert c.origin(gone) == (None, [])
    c.drop(gone)  # again: no error


def three_entries(tmp_path, limit=100):
    """A cache of limit bytes holding entries a, b, c of 30 bytes each (added in that order)."""
    c = cache.Cache(str(tmp_path), limit)
    a, b, d = (put_entry(c, bytes([ch]) * 30) for ch in b"abc")
    assert c.used() == 90
    return c, a, b, d


def test_room_evicts_only_until_the_entry_fits(tmp_path):
    c, a, b, d = three_entries(tmp_path)
    assert c.room(10, []) is True          # 90 + 10 fits: nothing evicted
    assert c.used() == 90
    assert c.room(20, []) is True          # one entry of 30 is enough
    assert c.used() == 60
    assert sum(c.has(s) for s in (a, b, d)) == 2


def test_room_never_evicts_a_kept_entry(tmp_path):
    c, a, b, d = three_entries(tmp_path)
    assert c.room(50, [b]) is True          # 30 kept + 50 fits only once a and c are gone
    assert c.has(b) and os.path.exists(c.path(b))
    assert not c.has(a) and not c.has(d)
    assert sorted(os.listdir(tmp_path)) == sorted([b, b + ".src"])
    assert c.used() == 30


def test_room_is_false_when_the_kept_entries_fill_it(tmp_path):
    c, a, b, d = three_entries(tmp_path)
    assert c.room(50, [a, b, d]) is False
    assert all(c.has(s) for s in (a, b, d))
    assert c.used() == 90


def test_room_is_false_when_kept_entries_leave_too_little(tmp_path):
    c, a, b, d = three_entries(tmp_path)
    assert c.room(50, [a, b]) is False     # 60 kept + 50 > 100, whatever else goes
    assert c.has(a) and c.has(b)


def test_room_is_false_for_an_entry_over_the_limit(tmp_path):
    c, a, b, d = three_entries(tmp_path)
    assert c.room(101, []) is False
    assert all(c.has(s) for s in (a, b, d))  # nothing evicted for an entry that never fits
    assert c.room(100, []) is True           # exactly the limit fits, once all are gone
    assert c.used() == 0


def test_save_and_load(tmp_path):
    c = cache.Cache(str(tmp_path), 100)
    assert c.load("horizon") is None
    c.save("horizon", b'{"items": []}')
    assert c.load("horizon") == b'{"items": []}'
    c.save("horizon", b"new")               # replaced whole
    assert c.load("horizon") == b"new"
    assert sorted(os.listdir(tmp_path)) == ["horizon"]  # no .tmp left
    assert c.writes == 2 and c.written == len(b'{"items": []}') + 3
    assert c.size == {}                     # not an entry


# -- cache.Stored -----------------------------------------------------------------------------

@pytest.fixture
def stored_file(tmp_path):
    p = tmp_path / sha_of(b"stored")
    p.write_bytes(bytes(range(100)))
    return str(p)


def read_all(s, buf, n=-1):
    out = b""
    while True:
        r = s.readinto(buf, n)
        if not r:
            return out
        out += bytes(buf[:r])


def test_stored_reads_from_have_on(stored_file):
    s = cache.Stored(stored_file, 40)
    try:
        assert read_all(s, bytearray(16)) == bytes(range(40, 100))
        assert s.done
    finally:
        s.close()


def test_stored_reads_at_most_n_bytes_into_the_front_of_buf(stored_file):
    s = cache.Stored(stored_file, 0)
    try:
        buf = bytearray(b"\xff" * 16)
        assert s.readinto(buf, 5) == 5
        assert buf == bytes(range(5)) + b"\xff" * 11
        assert s.readinto(buf, 3) == 3        # another n: another view
        assert buf[:3] == bytes([5, 6, 7]) and buf[3:] == bytes([3, 4]) + b"\xff" * 11
        other = bytearray(8)
        assert s.readinto(other, 3) == 3      # the same n, another buffer
        assert other == bytes([8, 9, 10]) + bytes(5)
        assert s.readinto(buf, 16) == 16      # n >= len(buf): the whole buffer
        assert buf == bytes(range(11, 27))
        assert not s.done
    finally:
        s.close()


def test_stored_end_returns_0_and_sets_done(stored_file):
    s = cache.Stored(stored_file, 95)
    try:
        buf = bytearray(16)
        assert s.readinto(buf, 10) == 5
        assert not s.done
        assert s.readinto(buf, 10) == 0
        assert s.done
    finally:
        s.close()
    assert s.f is None and s.done
    s.close()  # twice: no error


# -- reportq.ReportQueue ----------------------------------------------------------------------

def qfile(tmp_path):
    return str(tmp_path / "reports.jsonl")


def filled(tmp_path, n, limit=100, start=1):
    q = reportq.ReportQueue(qfile(tmp_path), limit, 0)
    for i in range(start, start + n):
        assert q.add({"seq": i, "id": "item-%d" % i}) is True
    return q


def seqs(body):
    doc = json.loads(body)
    assert list(doc) == ["reports"]
    return [r["seq"] for r in doc["reports"]]


def lines_of(tmp_path):
    with open(qfile(tmp_path), "rb") as f:
        data = f.read()
    assert data.endswith(b"\n")
    return [json.loads(x) for x in data.split(b"\n")[:-1]]


def test_add_appends_json_lines_that_a_new_queue_counts_again(tmp_path):
    q = filled(tmp_path, 3)
    assert q.count == 3
    assert [d["seq"] for d in lines_of(tmp_path)] == [1, 2, 3]
    assert q.writes == 3 and q.written == os.path.getsize(qfile(tmp_path))
    again = reportq.ReportQueue(qfile(tmp_path), 100, 0)
    assert again.count == 3
    assert again.lost == 0


def test_head_is_a_batch_in_order_with_its_marks(tmp_path):
    q = filled(tmp_path, 5)
    body, marks = q.head(3)
    assert seqs(body) == [1, 2, 3]
    ends = []
    with open(qfile(tmp_path), "rb") as f:
        for _ in range(3):
            f.readline()
            ends.append(f.tell())
    assert marks == [(ends[0], 1, 0), (ends[1], 2, 0), (ends[2], 3, 0)]
    assert q.count == 5                     # nothing dropped before taken()
    body, _ = q.head(10)
    assert seqs(body) == [1, 2, 3, 4, 5]    # at most k: all 5 when k is more


def test_head_of_an_empty_queue(tmp_path):
    q = reportq.ReportQueue(qfile(tmp_path), 100, 0)
    assert q.head(8) == (None, [])
    assert q.count == 0


def test_taken_drops_the_delivered_and_the_rest_survive_a_restart(tmp_path):
    q = filled(tmp_path, 5)
    body, marks = q.head(3)
    q.taken(marks[2])
    assert q.count == 2
    assert q.off == marks[2][0]
    again = reportq.ReportQueue(qfile(tmp_path), 100, q.off)
    assert again.count == 2
    body, marks = again.head(8)
    assert seqs(body) == [4, 5]
    again.taken(marks[-1])
    assert again.count == 0 and again.off == 0
    assert not os.path.exists(qfile(tmp_path))   # all delivered: the file goes


def test_a_partly_applied_batch_leaves_the_rest_in_order(tmp_path):
    q = filled(tmp_path, 3)
    body, marks = q.head(3)
    q.taken(marks[0])                       # the server applied the first of the three
    assert q.count == 2
    body, marks = q.head(3)
    assert seqs(body) == [2, 3]
    assert [m[1] for m in marks] == [1, 2]
    assert reportq.ReportQueue(qfile(tmp_path), 100, q.off).count == 2


def test_a_cut_last_line_is_removed_at_open(tmp_path):
    filled(tmp_path, 2)
    good = os.path.getsize(qfile(tmp_path))
    with open(qfile(tmp_path), "ab") as f:
        f.write(b'{"seq": 9, "id"')          # a power cut mid-append
    q = reportq.ReportQueue(qfile(tmp_path), 100, 0)
    assert q.count == 2
    assert q.lost == 1
    assert os.path.getsize(qfile(tmp_path)) == good
    assert q.add({"seq": 3, "id": "item-3"})
    assert [d["seq"] for d in lines_of(tmp_path)] == [1, 2, 3]
    body, _ = q.head(8)
    assert seqs(body) == [1, 2, 3]


def test_a_cut_only_line_leaves_an_empty_queue(tmp_path):
    with open(qfile(tmp_path), "wb") as f:
        f.write(b'{"seq": 1')
    q = reportq.ReportQueue(qfile(tmp_path), 100, 0)
    assert q.count == 0 and q.lost == 1
    assert q.head(8) == (None, [])
    assert q.add({"seq": 1})
    assert lines_of(tmp_path) == [{"seq": 1}]


def write_lines(tmp_path, *lines):
    with open(qfile(tmp_path), "wb") as f:
        for line in lines:
            f.write(line + b"\n")


def test_head_skips_a_line_that_is_not_json_and_sends_the_rest(tmp_path):
    write_lines(tmp_path, b'{"seq": 1}', b'{"seq": 2', b'[1, 2]', b'{"seq": 3}')
    q = reportq.ReportQueue(qfile(tmp_path), 100, 0)
    assert q.count == 4
    body, marks = q.head(8)
    assert seqs(body) == [1, 3]
    assert [m[1:] for m in marks] == [(1, 0), (4, 2)]  # the skipped lines go with the next report
    q.taken(marks[-1])
    assert q.lost == 2                      # the cut object and the array, once taken
    assert q.count == 0
    assert not os.path.exists(qfile(tmp_path))


def test_head_of_only_bad_lines_drops_them(tmp_path):
    write_lines(tmp_path, b"not json", b"")
    q = reportq.ReportQueue(qfile(tmp_path), 100, 0)
    assert q.count == 2
    assert q.head(8) == (None, [])
    assert q.lost == 2
    assert q.count == 0
    assert not os.path.exists(qfile(tmp_path))


def test_a_bad_line_is_counted_lost_once_when_head_is_asked_again(tmp_path):
    write_lines(tmp_path, b'{"seq": 1}', b"garbage", b'{"seq": 2}')
    q = reportq.ReportQueue(qfile(tmp_path), 100, 0)
    body, marks = q.head(8)
    assert seqs(body) == [1, 2]
    body, marks = q.head(8)                 # the POST failed (Away): the same batch again
    assert seqs(body) == [1, 2] and q.lost == 0
    q.taken(marks[-1])
    assert q.lost == 1 and q.count == 0


def test_a_bad_last_line_is_counted_lost_once(tmp_path):
    write_lines(tmp_path, b'{"seq": 1}', b"garbage")
    q = reportq.ReportQueue(qfile(tmp_path), 100, 0)
    body, marks = q.head(8)
    assert seqs(body) == [1]
    q.taken(marks[-1])
    assert q.head(8) == (None, [])
    assert q.count == 0
    assert q.lost == 1


def test_add_is_refused_when_the_queue_is_full(tmp_path):
    q = filled(tmp_path, 3, limit=3)
    assert q.count == 3
    assert q.add({"seq": 4}) is False
    assert q.add({"seq": 5}) is False
    assert q.lost == 2
    assert q.count == 3
    assert [d["seq"] for d in lines_of(tmp_path)] == [1, 2, 3]
    _, marks = q.head(1)
    q.taken(marks[0])                       # one delivered: room for one
    assert q.add({"seq": 6}) is True
    assert q.add({"seq": 7}) is False


def test_an_off_past_the_file_starts_the_queue_again(tmp_path):
    filled(tmp_path, 2)
    size = os.path.getsize(qfile(tmp_path))
    q = reportq.ReportQueue(qfile(tmp_path), 100, size + 10)
    assert q.count == 0 and q.off == 0
    assert not os.path.exists(qfile(tmp_path))
    assert q.add({"seq": 1})
    body, _ = q.head(8)
    assert seqs(body) == [1]


def test_an_off_with_no_file_starts_the_queue_again(tmp_path):
    q = reportq.ReportQueue(qfile(tmp_path), 100, 500)
    assert q.count == 0 and q.off == 0
    assert q.head(8) == (None, [])


# -- devconfig: the cache object --------------------------------------------------------------

BASE = {"server": "http://127.0.0.1:1", "device": "d1",
        "secret": "0123456789abcdef0123456789abcdef"}


def load(tmp_path, cache_value, warnings=None):
    p = tmp_path / "config.json"
    p.write_text(json.dumps(dict(BASE, cache=cache_value)))
    warn = warnings.append if warnings is not None else _no_warning
    return devconfig.load_config(str(p), warn=warn)


def _no_warning(msg):
    raise AssertionError("unexpected warning: %s" % msg)


def test_cache_defaults_are_filled_in(tmp_path):
    cfg = load(tmp_path, {"dir": "/sd/cache", "bytes": 1 << 20})
    assert cfg["cache"] == {"dir": "/sd/cache", "bytes": 1 << 20, "horizon": 8, "batch": 8,
                            "queue": 1024, "chunk": 2048}


def test_no_cache_is_null(tmp_path):
    p = tmp_path / "config.json"
    p.write_text(json.dumps(BASE))
    assert devconfig.load_config(str(p), warn=_no_warning)["cache"] is None


def test_cache_values_given_are_kept(tmp_path):
    c = {"dir": "c", "bytes": 1, "horizon": 16, "batch": 32, "queue": 1, "chunk": 256}
    assert load(tmp_path, dict(c))["cache"] == c


@pytest.mark.parametrize("value, field", [
    ([], "cache"),
    ("/sd/cache", "cache"),
    (False, "cache"),
    ({"bytes": 1000}, "cache.dir"),
    ({"dir": "", "bytes": 1000}, "cache.dir"),
    ({"dir": 5, "bytes": 1000}, "cache.dir"),
    ({"dir": "c"}, "cache.bytes"),
    ({"dir": "c", "bytes": True}, "cache.bytes"),
    ({"dir": "c", "bytes": 0}, "cache.bytes"),
    ({"dir": "c", "bytes": 1.5}, "cache.bytes"),
    ({"dir": "c", "bytes": 1000, "horizon": 0}, "cache.horizon"),
    ({"dir": "c", "bytes": 1000, "horizon": 17}, "cache.horizon"),
    ({"dir": "c", "bytes": 1000, "batch": 33}, "cache.batch"),
    ({"dir": "c", "bytes": 1000, "batch": 0}, "cache.batch"),
    ({"dir": "c", "bytes": 1000, "queue": 0}, "cache.queue"),
    ({"dir": "c", "bytes": 1000, "chunk": 1000}, "cache.chunk"),
    ({"dir": "c", "bytes": 1000, "chunk": 128}, "cache.chunk"),
    ({"dir": "c", "bytes": 1000, "chunk": "2048"}, "cache.chunk"),
])
def test_a_bad_cache_is_refused_naming_the_field(tmp_path, value, field):
    with pytest.raises(devconfig.ConfigError) as e:
        load(tmp_path, value)
    msg = str(e.value)
    assert msg.startswith(field + " ")
    if field == "cache.chunk" and value["chunk"] == 1000:
        assert "multiple of 16" in msg


def test_an_unknown_cache_key_is_warned_about_with_the_near_key(tmp_path):
    warnings = []
    cfg = load(tmp_path, {"dir": "c", "bytes": 1000, "horizn": 4}, warnings)
    assert len(warnings) == 1
    assert "'cache.horizn'" in warnings[0]
    assert "did you mean 'cache.horizon'" in warnings[0]
    assert cfg["cache"]["horizon"] == 8     # the typo is ignored: the default holds


def test_a_far_unknown_cache_key_is_warned_about_without_a_guess(tmp_path):
    warnings = []
    load(tmp_path, {"dir": "c", "bytes": 1000, "zzzzzzzz": 1}, warnings)
    assert len(warnings) == 1
    assert "'cache.zzzzzzzz'" in warnings[0]
    assert "did you mean" not in warnings[0]
