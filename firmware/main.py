# main.py: what a board runs after boot.py, and `python3 main.py` on a Raspberry Pi: check the
# config, start the watchdog, bring up Wi-Fi, then play forever (autoplay on boot; a restart
# continues the item it was on, see README "Flash a board"). Config: config.json next to this.
# Board keys, beside devconfig's (firmware/README.md):
#   wifi       [{"ssid": ..., "password": ...}, ...]   saved networks (none: the OS's network)
#   watchdog   seconds without progress before the board resets; 0: off       (0)
#   timer      machine.Timer id that feeds the hardware watchdog (ESP32: 0..3) (-1)
import gc
import sys

CONFIG = "config.json"


def _board_keys(path):
    import devconfig
    try:
        cfg = devconfig.load_config(path)  # the same check device.py makes, before anything starts
    finally:
        del sys.modules["devconfig"]
    wd = cfg.get("watchdog") or 0
    if not isinstance(wd, (int, float)) or wd < 0:
        raise ValueError("watchdog must be a number of seconds")
    timer = cfg.get("timer", -1)
    if not isinstance(timer, int):
        raise ValueError("timer must be a machine.Timer id")
    nets = cfg.get("wifi")
    if nets is not None:
        import wlan
        wlan.check_networks(nets)
    return nets, int(wd * 1000), timer


def main(path=CONFIG):
    from devlog import log
    gc.collect()
    try:
        nets, wd_ms, timer = _board_keys(path)
    except ValueError as e:  # devconfig.ConfigError too
        log("E", "config: %s" % e)
        return 2
    if wd_ms:
        import watchdog
        try:
            watchdog.start(wd_ms, timer_id=timer)
        except ImportError:
            log("E", "config: watchdog needs a board (machine.WDT)")
            return 2
    wifi = None
    if nets:
        import wlan
        wifi = wlan.Wifi(nets)
        wifi.ensure()
    import supervise
    supervise.install(wifi)
    del nets
    gc.collect()
    import device
    return device.main(["main.py", path])


if __name__ == "__main__":
    code = main()
    if sys.implementation.name != "micropython":
        sys.exit(code)
    # on a board, sys.exit would soft-reset into main.py again: stay at the REPL instead
    print("main.py ended (%s): the REPL is yours; machine.reset() to start again" % code)
