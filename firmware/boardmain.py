# A board's start (main.py calls main()): check the config, start the watchdog, bring up Wi-Fi,
# then play forever (autoplay on boot; a restart continues the item it was on, README "Flash a
# board"). Compiled to .mpy with the rest, while main.py stays a few lines of source.
# Board keys, beside devconfig's (firmware/README.md):
#   wifi       [{"ssid": ..., "password": ...}, ...]   saved networks (none: the OS's network)
#   watchdog   seconds without progress before the board resets; 0: off       (0)
#   timer      machine.Timer id that feeds the hardware watchdog (the board's; ESP32: 0..3, rp2: -1)
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
    timer = cfg.get("timer")
    if timer is None:
        timer = _board_timer(cfg.get("sink"))
    if not isinstance(timer, int):
        raise ValueError("timer must be a machine.Timer id")
    nets = cfg.get("wifi")
    if nets is not None:
        import wlan
        wlan.check_networks(nets)
    return nets, int(wd * 1000), timer


def _board_timer(sink):
    """The Timer id the board definition names (ESP32 has no virtual timer -1); -1 otherwise."""
    if not isinstance(sink, dict) or sink.get("type") != "board":
        return -1
    try:
        import boards
    except ImportError:
        return -1
    try:
        return boards.board(sink.get("board")).get("timer", -1)
    finally:
        del sys.modules["boards"]


def start(path=CONFIG):
    """Config check, watchdog, Wi-Fi; (0, the player's board parts) when the player can start,
    else (the exit code, None). main() then drops this module (its bytecode is needed once)
    before the player is imported."""
    from devlog import log
    gc.collect()
    try:
        nets, wd_ms, timer = _board_keys(path)
    except ValueError as e:  # devconfig.ConfigError too
        log("E", "config: %s" % e)
        return 2, None
    if wd_ms:
        import watchdog
        try:
            watchdog.start(wd_ms, timer_id=timer)
        except ImportError:
            log("E", "config: watchdog needs a board (machine.WDT)")
            return 2, None
    wifi = None
    if nets:
        import wlan
        wifi = wlan.Wifi(nets)
        wifi.ensure()
    import supervise
    sup = supervise.Supervisor(wifi)
    return 0, {"emit": sup.emit, "sleep_ms": sup.sleep_ms}


def main(path=CONFIG):
    """start, then the player (device.py) with the board's parts, this module dropped between."""
    code, parts = start(path)
    if code:
        return code
    del sys.modules["boardmain"]
    gc.collect()
    import device
    return device.main(["main.py", path], **parts)
