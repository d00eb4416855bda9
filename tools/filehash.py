"""The sha256 of a file, as a media record holds it and a device checks it: one home for the
tools, the simulator, the benchmarks and the tests (host_server/ imports none of these)."""
import hashlib

CHUNK = 1 << 20  # media files are large: read them a block at a time


def size_and_sha256(path):
    """(bytes read, hex sha256) from one pass over the file: the two agree even if it changes."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def file_sha256(path):
    return size_and_sha256(path)[1]
