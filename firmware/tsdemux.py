# One HLS segment's audio elementary stream, incrementally and in place (hls.py): an MPEG-TS
# segment (ISO 13818-1: PAT on PID 0 -> the PMT's PID -> the first audio ES, stream_type 0x0F ADTS
# AAC or 0x03/0x04 MP3; adaptation fields skipped, PES headers stripped) or a packed audio segment
# (raw ADTS or MP3, led by an ID3v2 tag as Apple's packed audio is: the tag is dropped). The kind
# is the segment's first byte (0x47: TS).
#
# Output goes to out(view) (view only valid during the call). Nothing is allocated per packet
# once a payload's view is cached: feed(mv, i, n) takes a window of one buffer the caller keeps,
# and views of it are cached by their bounds (hls.py reads packets aligned at multiples of 188,
# so a handful of bounds recur). A packet split across feeds is completed in a 188-byte buffer
# allocated once.
from compat import const
from httpconn import BadResponse

PKT = const(188)
TS = const(1)
_PACKED = const(2)
_ID3 = const(3)       # packed audio whose first 10 bytes (an ID3v2 header?) are being collected
_VIEWS = const(24)    # cached payload views
AUDIO_TYPES = (0x0F, 0x03, 0x04)


class Demux:
    def __init__(self, out):
        self.out = out
        self.pkt = bytearray(PKT)
        self.pmv = memoryview(self.pkt)
        self._vmv = None
        self._vc = {}
        self.reset()

    def reset(self):
        """A new segment: its kind from its first byte, its PIDs from its own PAT and PMT."""
        self.mode = 0
        self.fill = 0      # bytes of a split packet (or of the ID3 header) in self.pkt
        self.pmt = -1
        self.es = -1
        self.hdr = 0       # PES header bytes still to strip (a header running into the next packet)
        self.skip = 0      # ID3 tag bytes still to drop

    def begin(self, first):
        self.mode = TS if first == 0x47 else (_ID3 if first == 0x49 else _PACKED)

    def _view(self, mv, a, b):
        if mv is not self._vmv:
            self._vmv = mv
            self._vc = {}
        k = a * 65536 + b
        v = self._vc.get(k)
        if v is None:
            v = mv[a:b]
            if len(self._vc) < _VIEWS and b < 65536:
                self._vc[k] = v
        return v

    def feed(self, mv, i=0, n=-1):
        """Bytes mv[i:n] (n -1: to the end) of the segment, in order."""
        if n < 0:
            n = len(mv)
        if i >= n:
            return
        if not self.mode:
            self.begin(mv[i])
        if self.mode != TS:
            self._packed(mv, i, n)
            return
        fill = self.fill
        if fill:  # complete the split packet first
            k = PKT - fill
            if k > n - i:
                k = n - i
            self.pkt[fill:fill + k] = mv[i:i + k]
            fill += k
            i += k
            if fill < PKT:
                self.fill = fill
                return
            self.fill = 0
            a = self._packet(self.pkt, 0)
            if a < PKT:
                self.out(self.pmv[a:])
        while i + PKT <= n:
            a = self._packet(mv, i)
            if a < i + PKT:
                self.out(self._view(mv, a, i + PKT))
            i += PKT
        if i < n:
            self.pkt[0:n - i] = mv[i:n]
            self.fill = n - i

    def end(self):
        """The segment's end: a TS packet cut short is an error; held bytes of packed audio out."""
        if self.mode == TS and self.fill:
            raise BadResponse("ts packet cut")
        if self.mode == _ID3 and self.fill:  # shorter than an ID3 header: audio after all
            self.out(self.pmv[:self.fill])
        self.fill = 0

    def _packed(self, mv, i, n):
        if self.mode == _ID3:
            k = 10 - self.fill
            if k > n - i:
                k = n - i
            self.pkt[self.fill:self.fill + k] = mv[i:i + k]
            self.fill += k
            i += k
            if self.fill < 10:
                return
            self.fill = 0
            self.mode = _PACKED
            p = self.pkt
            if p[0] == 0x49 and p[1] == 0x44 and p[2] == 0x33:  # "ID3"
                self.skip = ((p[6] & 127) << 21 | (p[7] & 127) << 14 | (p[8] & 127) << 7
                             | (p[9] & 127)) + (10 if p[5] & 0x10 else 0)
            else:
                self.out(self.pmv[:10])
        if self.skip:
            k = self.skip if self.skip < n - i else n - i
            self.skip -= k
            i += k
        if i < n:
            self.out(mv[i:n])

    def _packet(self, p, o):
        """Packet p[o:o+188]: the offset in p its audio payload starts at (o + 188: none)."""
        if p[o] != 0x47:
            raise BadResponse("ts sync")
        pid = (p[o + 1] & 0x1F) << 8 | p[o + 2]
        start = p[o + 1] & 0x40
        afc = p[o + 3] >> 4 & 3
        end = o + PKT
        a = o + 4
        if afc & 2:
            a += 1 + p[o + 4]
            if a > end:
                raise BadResponse("ts adaptation field")
        if not afc & 1 or a >= end:
            return end
        if pid == self.es:
            if start:
                if end - a < 9 or p[a] or p[a + 1] or p[a + 2] != 1:
                    raise BadResponse("ts pes header")
                self.hdr = 9 + p[a + 8]
            if self.hdr:
                k = self.hdr if self.hdr < end - a else end - a
                self.hdr -= k
                a += k
            return a
        if start and (pid == 0 or pid == self.pmt):
            self._section(p, a + 1 + p[a], end, pid)
        return end

    def _section(self, p, s, end, pid):
        """A PAT or PMT section at p[s:] (one packet holds it, as HLS segments have it)."""
        if s + 12 > end:
            raise BadResponse("ts table")
        stop = s + 3 + ((p[s + 1] & 0x0F) << 8 | p[s + 2]) - 4  # before the CRC
        if stop > end:
            raise BadResponse("ts table")
        if pid == 0:
            if p[s]:
                return
            j = s + 8
            while j + 4 <= stop:
                if p[j] or p[j + 1]:  # program 0 is the network PID
                    self.pmt = (p[j + 2] & 0x1F) << 8 | p[j + 3]
                    return
                j += 4
            return
        if p[s] != 2:
            return
        j = s + 12 + ((p[s + 10] & 0x0F) << 8 | p[s + 11])
        while j + 5 <= stop:
            if p[j] in AUDIO_TYPES:
                self.es = (p[j + 1] & 0x1F) << 8 | p[j + 2]
                return
            j += 5 + ((p[j + 3] & 0x0F) << 8 | p[j + 4])
        raise BadResponse("ts no audio stream")
