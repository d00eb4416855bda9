"""The demo network's stream items (issue 15, PROTOCOL.md "Live items"), beside its files:

- "radio", a live stream: Icecast R1 (the origin, fed by ffmpeg) and Icecast R2 (a relay of R1's
  mount), so two servers carry one source; the relay is the primary, the origin the alternate.
- "hls", an HLS presentation: AAC in MPEG-TS, AES-128 encrypted, made by ffmpeg; a master
  playlist (on A and on ABC) lists its two redundant variants, one on file server A and one on
  ABC. Its key is the meta server's alone (sealed in the catalog), never on a file server.

Needs Debian's icecast2 and ffmpeg (make run and make test install them)."""
import os
import shutil

from simulator.hlsmedia import make_vod, write_master
from simulator.icecast import FfmpegSource, IcecastServer, ffmpeg_path, icecast_path, set_title

HLS_KEY = bytes(range(0xa0, 0xb0))   # the demo's segment key, handed to entitled devices only
LIVE_MS = 6000          # how long the radio item plays
LIVE_KBIT = 32          # the radio's MP3 bit rate
TITLE = "Demo Radio - first song"
HLS_DIR = "hls/demo"    # where each file server holds the variant's playlist and segments
MASTER_DIR = "hls"      # and the master playlist


def available():
    """None when icecast2 and ffmpeg are installed, else what is missing."""
    missing = [n for n, p in (("icecast2", icecast_path()), ("ffmpeg", ffmpeg_path())) if not p]
    return ", ".join(missing) or None


class Streams:
    def __init__(self, workdir):
        self.workdir = workdir
        self.origin = self.relay = self.source = None
        self.hls = None      # make_vod's facts of the presentation

    async def start(self, servers_dir, address):
        """Icecast R1 with its source, R2 relaying it, the HLS files laid out on A and ABC
        (servers_dir/<name>/ is each file server's root; address: name -> its address)."""
        self.origin = await IcecastServer(os.path.join(self.workdir, "icecast", "R1")).start()
        self.source = await FfmpegSource(self.origin, bitrate=LIVE_KBIT).start()
        self.relay = await IcecastServer(os.path.join(self.workdir, "icecast", "R2"),
                                         relay=("127.0.0.1", self.origin.port, "/live")).start()
        await set_title(self.origin, "/live", TITLE)
        made = os.path.join(self.workdir, "hls-made")
        self.hls = make_vod(made, seconds=6, segment_s=1, codec="aac", container="ts", key=HLS_KEY)
        variants = []
        for name in ("A", "ABC"):
            folder = os.path.join(servers_dir, name, HLS_DIR)
            os.makedirs(folder, exist_ok=True)
            for f in self.hls["segments"] + [os.path.basename(self.hls["playlist"])]:
                shutil.copyfile(os.path.join(made, f), os.path.join(folder, f))
            variants.append("%s/%s/%s" % (address[name], HLS_DIR, os.path.basename(self.hls["playlist"])))
        for name in ("A", "ABC"):
            folder = os.path.join(servers_dir, name, MASTER_DIR)
            write_master(os.path.join(folder, "master.m3u8"), variants)
        return self

    def media(self, address):
        """The catalog's media entries of the two streams."""
        return [
            {"ref": "radio", "stream": "live", "type": "audio/mpeg", "rate": self.source.rate,
             "dur": LIVE_MS, "primary_address": "http://127.0.0.1:%d" % self.relay.port,
             "primary_directory": "", "file_name": "live",
             "alternates": [{"address": "http://127.0.0.1:%d" % self.origin.port, "directory": ""}],
             "title": "Demo Radio", "owner": "Demo Radio", "performers": ["Demo Radio"]},
            {"ref": "hls", "stream": "hls", "type": "audio/aac", "rate": self.hls["rate"],
             "primary_address": address["A"], "primary_directory": MASTER_DIR,
             "file_name": "master.m3u8",
             "alternates": [{"address": address["ABC"], "directory": MASTER_DIR}],
             "title": "Demo HLS", "owner": "Demo Owner A", "performers": ["Demo Ensemble"],
             "secure": {"hls_key": HLS_KEY.hex()}},
        ]

    async def stop(self):
        for part in (self.source, self.relay, self.origin):
            if part is not None:
                await part.stop()
