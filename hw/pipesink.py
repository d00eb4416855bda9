# Raspberry Pi on Linux (the firmware under CPython): each item is piped into a player process,
# aplay for WAV and mpg123 for MP3 by default, or any command the config names (which reads the
# item on its stdin). The player's pace is the stream's pace: writes block while its pipe is full.
import subprocess

from playsink import PlaySink

PLAYERS = {"audio/wav": ["aplay", "-q", "-"], "audio/x-wav": ["aplay", "-q", "-"],
           "audio/mpeg": ["mpg123", "-q", "-"]}


class PipeSink(PlaySink):
    def __init__(self, cmd=None, players=None, buttons=None, display=None):
        PlaySink.__init__(self, None, buttons, display)
        if cmd is not None and (not isinstance(cmd, list) or not cmd
                                or not all(isinstance(a, str) for a in cmd)):
            raise ValueError("sink.cmd must be a list of strings (a command and its arguments)")
        self.cmd = cmd
        self.players = players or PLAYERS
        self.proc = None

    def start(self, meta, buf):
        self._close_proc()
        cmd = self.cmd or self.players.get(meta.get("type", ""))
        if cmd is None:
            raise OSError("no player for type %s (set sink.cmd)" % meta.get("type"))
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, bufsize=0)
        except OSError as e:
            raise OSError("cannot start %s: %s" % (cmd[0], e))

    def out(self, mv, at):
        v = self.audible(mv, at, 0, 1 << 62)
        if v is None or self.proc is None:
            return
        try:
            self.proc.stdin.write(v)
        except BrokenPipeError:  # the player quit: the item goes on being fetched and checked
            self._close_proc()
            self.muted = True

    def stop(self, ok):
        self._close_proc(wait=ok)

    def _close_proc(self, wait=False):
        p = self.proc
        if p is None:
            return
        self.proc = None
        if not wait:
            p.kill()
        try:
            if p.stdin is not None:
                p.stdin.close()
        except BrokenPipeError:
            pass
        p.wait()

    def close(self):
        self._close_proc()
