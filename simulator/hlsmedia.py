"""HLS media for the simulator and the tests (issue 15), made by ffmpeg (Debian's package): an
on-demand media playlist with its segments (MPEG-TS or packed audio, AAC or MP3, clear or
AES-128), a master playlist of redundant variants, and a live playlist that slides over a VOD.

Each presentation is made in two steps, so that what a device plays can be compared byte for byte:
ffmpeg encodes a generated signal to the audio elementary stream (ADTS AAC or plain MP3 frames, no
ID3 tag, no Xing frame), then cuts that stream with ``-c copy`` into segments. The ES handed back
is that first file: for packed segments it is their concatenation, for TS what their PES packets
carry. The functions block (they run ffmpeg); call them before starting the servers, or in a
thread."""
import asyncio
import math
import os
import re
import shutil
import subprocess
import tempfile

PLAYLIST = "index.m3u8"
KEY_URI = "key.bin"
DEFAULT_IV = bytes(range(16))    # one explicit IV for every segment: a live window may wrap round
# a tone that glides (no two segments alike) with a little seeded noise: deterministic
SIGNAL = "aevalsrc=0.4*sin(2*PI*(300+200*sin(t))*t)+0.05*random(0):s=%d:c=mono"
CODECS = {"aac": ("aac", "adts", "aac"), "mp3": ("libmp3lame", "mp3", "mp3")}  # encoder, format, ext
BITEXACT = ["-fflags", "+bitexact", "-flags:a", "+bitexact"]
# the mp3 muxer's ID3v2 tag and Xing frame are not audio: leave them out, in the ES and segments
MP3_BARE = ["-id3v2_version", "0", "-write_xing", "0"]


def ffmpeg_path():
    """Debian's ffmpeg, or None when it is not installed."""
    return shutil.which("ffmpeg")


def _ffmpeg(*args):
    cmd = [ffmpeg_path() or "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
    if done.returncode != 0:
        raise RuntimeError("ffmpeg failed: %s\n%s" % (" ".join(cmd), done.stderr.decode("utf-8", "replace")))


def make_es(path, seconds=8, codec="aac", bitrate=32, sample_rate=22050):
    """path: ``seconds`` (a little less: whole frames) of mono audio, encoded at ``bitrate``
    kbit/s to an ADTS AAC or a bare MP3 stream. Returns its bytes."""
    encoder, fmt, _ = CODECS[codec]
    extra = MP3_BARE if codec == "mp3" else []
    raw = path + ".full"
    # encode a little more than asked, then cut with -c copy at a frame before `seconds`: the
    # encoder's padding never makes a last segment of a few milliseconds
    _ffmpeg("-f", "lavfi", "-i", SIGNAL % sample_rate, "-t", str(seconds + 0.5),
            "-c:a", encoder, "-b:a", "%dk" % bitrate, *BITEXACT, *extra, "-f", fmt, raw)
    _ffmpeg("-i", raw, "-c", "copy", "-t", str(seconds), *BITEXACT, *extra, "-f", fmt, path)
    os.remove(raw)
    with open(path, "rb") as f:
        return f.read()


def encrypt(data, key, iv):
    """AES-128-CBC with PKCS#7 padding, as HLS's METHOD=AES-128 has each segment."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    padder = padding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(padder.update(data) + padder.finalize()) + enc.finalize()


def decrypt(data, key, iv):
    """The inverse of encrypt (for tests and the simulator's checks)."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(dec.update(data) + dec.finalize()) + unpadder.finalize()


def target_duration(durations):
    """EXT-X-TARGETDURATION: every EXTINF, rounded to the nearest integer, is at most it."""
    return max([1] + [int(math.floor(d + 0.5)) for d in durations])


def key_line(iv, uri=KEY_URI):
    return '#EXT-X-KEY:METHOD=AES-128,URI="%s",IV=0x%s' % (uri, iv.hex())


def media_playlist(segments, target, sequence=0, endlist=True, key=None, vod=False,
                   discontinuity_sequence=0):
    """The text of a media playlist. segments: [(uri, duration, discontinuity before it)];
    key: the EXT-X-KEY line (one, for all segments) or None."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:%d" % target,
             "#EXT-X-MEDIA-SEQUENCE:%d" % sequence]
    if discontinuity_sequence:
        lines.append("#EXT-X-DISCONTINUITY-SEQUENCE:%d" % discontinuity_sequence)
    if vod:
        lines.append("#EXT-X-PLAYLIST-TYPE:VOD")
    if key:
        lines.append(key)
    for uri, duration, discontinuity in segments:
        if discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append("#EXTINF:%.6f," % duration)
        lines.append(uri)
    if endlist:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def write_atomic(path, text):
    """path's new content in one step (a temp file beside it, then os.replace): a client
    reading the playlist sees the old one or the new one, never half."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def make_vod(outdir, seconds=8, segment_s=1, codec="aac", container="ts", key=None, bitrate=32,
             iv=None, sample_rate=22050):
    """An on-demand HLS presentation in outdir: ``index.m3u8`` (#EXT-X-ENDLIST) and its segments
    ``seg<N>.ts`` (MPEG-TS carrying ADTS AAC or MP3) or ``seg<N>.aac`` / ``seg<N>.mp3`` (packed
    audio: raw ADTS or MP3 frames, no ID3 timestamp tag). key (16 bytes): every segment AES-128
    encrypted (CBC, PKCS#7, the one IV ``iv``, default DEFAULT_IV), the playlist naming
    URI="key.bin" with that IV; the key itself is NOT written anywhere under outdir.

    Returns {"playlist": path, "segments": [file names], "durations": [seconds], "es": the
    elementary stream's bytes, "rate": ES bytes per second (int), "target": target duration,
    "codec", "container", "key", "iv" (None when clear), "ext"}."""
    if codec not in CODECS:
        raise ValueError("codec: aac or mp3, not %r" % codec)
    if container not in ("ts", "packed"):
        raise ValueError("container: ts or packed, not %r" % container)
    if key is not None and len(key) != 16:
        raise ValueError("an AES-128 key is 16 bytes")
    outdir = str(outdir)
    os.makedirs(outdir, exist_ok=True)
    _, fmt, ext = CODECS[codec]
    with tempfile.TemporaryDirectory(prefix="hlsmedia-") as work:
        es_path = os.path.join(work, "es." + ext)
        es = make_es(es_path, seconds, codec, bitrate, sample_rate)
        listing = os.path.join(work, "list.csv")
        if container == "ts":
            ext = "ts"
            # ffmpeg's hls muxer cuts; its playlist is not used (ours is written below), but its
            # durations are those of the segment list
            _ffmpeg("-i", es_path, "-c", "copy", *BITEXACT, "-f", "hls", "-hls_time", str(segment_s),
                    "-hls_playlist_type", "vod", "-hls_list_size", "0",
                    "-hls_segment_filename", os.path.join(work, "seg%d.ts"),
                    os.path.join(work, "ffmpeg.m3u8"))
            with open(os.path.join(work, "ffmpeg.m3u8")) as f:
                text = f.read()
            durations = [float(d) for d in re.findall(r"^#EXTINF:([0-9.]+),", text, re.M)]
            names = re.findall(r"^(seg\d+\.ts)$", text, re.M)
        else:
            options = ["-segment_format_options", "id3v2_version=0:write_xing=0"] if codec == "mp3" else []
            _ffmpeg("-i", es_path, "-c", "copy", *BITEXACT, "-f", "segment", "-segment_time", str(segment_s),
                    "-segment_format", fmt, *options, "-segment_list", listing,
                    "-segment_list_type", "csv", os.path.join(work, "seg%d." + ext))
            names, durations = [], []
            with open(listing) as f:
                for row in f:
                    name, start, end = row.strip().split(",")
                    names.append(name)
                    durations.append(round(float(end) - float(start), 6))
        assert names and len(names) == len(durations), (names, durations)
        if key is not None:
            iv = iv or DEFAULT_IV
        for name in names:
            with open(os.path.join(work, name), "rb") as f:
                data = f.read()
            if key is not None:
                data = encrypt(data, key, iv)
            with open(os.path.join(outdir, name), "wb") as f:
                f.write(data)
    target = target_duration(durations)
    playlist = os.path.join(outdir, PLAYLIST)
    write_atomic(playlist, media_playlist([(n, d, False) for n, d in zip(names, durations)], target,
                                          key=key_line(iv) if key is not None else None, vod=True))
    return {"playlist": playlist, "segments": names, "durations": durations, "es": es,
            "rate": int(len(es) / sum(durations)), "target": target, "codec": codec,
            "container": container, "key": key, "iv": iv if key is not None else None, "ext": ext}


def write_master(path, variant_uris, bandwidth=48000, codecs="mp4a.40.2"):
    """A master playlist naming one rendition once per URI (redundant streams: the same
    BANDWIDTH and CODECS, so hls.js and ExoPlayer fail over between them). MP3: codecs
    "mp4a.40.34". Returns path."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3"]
    for uri in variant_uris:
        lines.append('#EXT-X-STREAM-INF:BANDWIDTH=%d,CODECS="%s"' % (bandwidth, codecs))
        lines.append(uri)
    write_atomic(str(path), "\n".join(lines) + "\n")
    return str(path)


def read_media_playlist(path):
    """(segment URIs, durations, the EXT-X-KEY line or None) of a media playlist (ours)."""
    uris, durations, key = [], [], None
    duration = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("#EXTINF:"):
                duration = float(line[8:].split(",", 1)[0])
            elif line.startswith("#EXT-X-KEY:"):
                key = line
            elif line and not line.startswith("#"):
                uris.append(line)
                durations.append(duration)
    return uris, durations, key


class LivePlaylist:
    """A live media playlist in outdir (``index.m3u8``) sliding over the segments of a VOD made by
    make_vod in srcdir. Each advance() publishes the next segment (hard-linked, else copied, into
    outdir as ``live<sequence>.<ext>``) and drops the oldest beyond ``window``;
    EXT-X-MEDIA-SEQUENCE counts up, there is no ENDLIST. When the VOD's segments run out it starts
    them again, the sequence numbers going on, with an EXT-X-DISCONTINUITY before each new round
    (the timestamps go back) and EXT-X-DISCONTINUITY-SEQUENCE counting those slid out. An
    encrypted VOD's key line is kept (its explicit IV is valid for every round). Nothing is
    published before the first advance(). Dropped segment files stay for another ``window``
    segments (a client that read the previous playlist can still fetch them)."""

    def __init__(self, srcdir, outdir, window=4):
        self.srcdir = str(srcdir)
        self.outdir = str(outdir)
        self.window = window
        self.path = os.path.join(self.outdir, PLAYLIST)
        self.source, self.durations, self.key = read_media_playlist(os.path.join(self.srcdir, PLAYLIST))
        if not self.source:
            raise ValueError("no segments in %s" % self.srcdir)
        self.ext = os.path.splitext(self.source[0])[1]
        self.target = target_duration(self.durations)
        self.published = []     # [(sequence, file name, duration, discontinuity, source name)]
        self.next = 0           # the sequence number advance() publishes next
        self.discontinuities_gone = 0
        os.makedirs(self.outdir, exist_ok=True)

    @property
    def sequence(self):
        """EXT-X-MEDIA-SEQUENCE now: the sequence number of the window's first segment."""
        return self.published[0][0] if self.published else 0

    def source_of(self, seq):
        """The VOD segment's file name that live sequence number seq carries."""
        return self.source[seq % len(self.source)]

    def advance(self, count=1):
        """Publishes the next ``count`` segments; returns the playlist's text."""
        for _ in range(count):
            seq = self.next
            src = self.source_of(seq)
            name = "live%d%s" % (seq, self.ext)
            dst = os.path.join(self.outdir, name)
            try:
                os.link(os.path.join(self.srcdir, src), dst)
            except OSError:
                shutil.copyfile(os.path.join(self.srcdir, src), dst)
            discontinuity = seq > 0 and seq % len(self.source) == 0
            self.published.append((seq, name, self.durations[seq % len(self.source)], discontinuity, src))
            self.next += 1
            while len(self.published) > self.window:
                gone = self.published.pop(0)
                if gone[3]:
                    self.discontinuities_gone += 1
            stale = seq - 2 * self.window
            if stale >= 0:
                try:
                    os.remove(os.path.join(self.outdir, "live%d%s" % (stale, self.ext)))
                except FileNotFoundError:
                    pass
        text = media_playlist([(n, d, disc) for _, n, d, disc, _ in self.published], self.target,
                              sequence=self.sequence, endlist=False, key=self.key,
                              discontinuity_sequence=self.discontinuities_gone)
        write_atomic(self.path, text)
        return text

    async def run(self, every_s=None):
        """advance() every ``every_s`` seconds (default: the target duration) until cancelled."""
        every_s = self.target if every_s is None else every_s
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            self.advance()
            due += every_s
            await asyncio.sleep(max(0.0, due - loop.time()))
