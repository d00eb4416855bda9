# Wi-Fi station with several saved networks: the strongest one a scan finds first, then the
# others (a hidden network shows in no scan); while none answers, exponential backoff with full
# jitter, so devices that lost the same access point do not all come back at once.
# Config: "wifi": [{"ssid": "home", "password": "..."}, ...] (password "" for an open network).
import watchdog
from compat import backoff_ms, const, sleep_ms, ticks_diff, ticks_ms
from devlog import log

POLL_MS = const(100)


def check_networks(nets):
    """The saved networks as (ssid, password) pairs; ValueError says what is wrong."""
    if not isinstance(nets, list) or not nets:
        raise ValueError("wifi must be a list of {\"ssid\": ..., \"password\": ...}")
    out = []
    for n in nets:
        if not isinstance(n, dict) or not isinstance(n.get("ssid"), str) or not n["ssid"] \
                or len(n["ssid"]) > 32:
            raise ValueError("wifi: each network needs an ssid (1 to 32 characters)")
        pw = n.get("password", "")
        if not isinstance(pw, str) or (pw and not 8 <= len(pw) <= 63):
            raise ValueError("wifi %s: password must be \"\" or 8 to 63 characters" % n["ssid"])
        out.append((n["ssid"], pw))
    return out


class Wifi:
    def __init__(self, networks, timeout_ms=15000, backoff_base_ms=1000, backoff_cap_ms=60000):
        import network
        self.network = network
        self.nets = check_networks(networks)
        self.timeout = timeout_ms
        self.base = backoff_base_ms
        self.cap = backoff_cap_ms
        self.sta = network.WLAN(network.STA_IF)
        self.failures = 0
        self.ssid = None

    def isconnected(self):
        return self.sta.isconnected()

    def order(self):
        """Saved networks, those a scan sees first, strongest first."""
        seen = {}  # type: dict
        try:
            for r in self.sta.scan():
                ssid = r[0].decode() if isinstance(r[0], bytes) else r[0]
                if ssid not in seen or r[3] > seen[ssid]:
                    seen[ssid] = r[3]
        except OSError as e:
            log("W", "wifi scan failed: %s" % e)
        found = [n for n in self.nets if n[0] in seen]
        found.sort(key=lambda n: -seen[n[0]])
        return found + [n for n in self.nets if n[0] not in seen]

    def _why(self, status):
        nw = self.network
        for name, why in (("STAT_WRONG_PASSWORD", "wrong password"), ("STAT_NO_AP_FOUND", "not found"),
                          ("STAT_CONNECT_FAIL", "refused")):
            if status == getattr(nw, name, None):
                return why
        return None

    def connect_once(self):
        """One pass over the saved networks; True when one of them is up."""
        sta = self.sta
        sta.active(True)
        for ssid, pw in self.order():
            try:
                sta.connect(ssid, pw)
            except OSError as e:
                log("W", "wifi %s: %s" % (ssid, e))
                continue
            t0 = ticks_ms()
            why = "timeout"
            while ticks_diff(ticks_ms(), t0) < self.timeout:
                if sta.isconnected():
                    self.ssid = ssid
                    log("I", "wifi %s up, address %s" % (ssid, sta.ifconfig()[0]))
                    return True
                w = self._why(sta.status())
                if w:
                    why = w
                    break
                watchdog.feed()
                sleep_ms(POLL_MS)
            log("W", "wifi %s: %s" % (ssid, why))
            sta.disconnect()
        return False

    def ensure(self):
        """Connected when it returns; retries with backoff for as long as it takes."""
        while not self.sta.isconnected():
            if self.ssid is not None:
                log("W", "wifi %s lost" % self.ssid)
                self.ssid = None
            if self.connect_once():
                self.failures = 0
                return
            ms = backoff_ms(self.failures, self.base, self.cap)
            self.failures += 1
            log("I", "wifi: no network, next try in %d ms" % ms)
            while ms > 0:
                watchdog.feed()
                sleep_ms(min(ms, 1000))
                ms -= 1000
