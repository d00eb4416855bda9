# The sinks that drive real parts, chosen by the device config's "sink" object
# (firmware/sinks.py make_sink hands every type it does not know itself to make_sink here):
#   {"type": "board", "board": "esp32-i2s"}          a board of boards.py, pins and all
#       (+ "buttons": false / "display": false to leave those parts out)
#   {"type": "i2s", "sck": 26, "ws": 25, "sd": 27, "id": 0, "ibuf": 20000}
#   {"type": "vs1053", "sck": 18, "mosi": 23, "miso": 19, "xcs": 5, "xdcs": 16, "dreq": 4,
#    "xreset": 17, "spi": 2, "volume": 32}
#   {"type": "pipe", "cmd": ["aplay", "-q", "-"]}    (Raspberry Pi on Linux; cmd optional)


def _pins(cfg, names, optional=()):
    kw = {}
    for k in names + optional:
        v = cfg.get(k)
        if v is None and k in optional:
            continue
        if not isinstance(v, int) or v < 0:
            raise ValueError("sink.%s must be a pin number" % k)
        kw[k] = v
    return kw


def make_sink(cfg):
    import sys
    try:
        return _make(cfg)
    finally:  # needed once, at start: their bytecode (the boards table most) is collected
        sys.modules.pop("boards", None)
        sys.modules.pop("boardsinks", None)


def _make(cfg):
    kind = cfg.get("type")
    buttons = display = None
    if kind == "board":
        import boards
        b = boards.board(cfg.get("board"))
        if cfg.get("buttons", True) and b.get("buttons"):
            import buttons as _b
            buttons = _b.Buttons(b["buttons"])
        if cfg.get("display", False) and b.get("display"):
            display = _display(b["display"])
        merged = dict(b["sink"])
        for k in cfg:
            if k not in ("type", "board", "buttons", "display"):
                merged[k] = cfg[k]  # a pin or setting the config overrides
        cfg = merged
        kind = cfg["type"]
    if kind == "i2s":
        import i2ssink
        import resumemark
        kw = _pins(cfg, ("sck", "ws", "sd"))
        return i2ssink.I2SSink(id=cfg.get("id", 0), ibuf=cfg.get("ibuf", 20000),
                               mark=resumemark.for_board(), buttons=buttons, display=display, **kw)
    if kind == "vs1053":
        import resumemark
        import vs1053
        kw = _pins(cfg, ("sck", "mosi", "miso", "xcs", "xdcs", "dreq"), ("xreset",))
        vol = cfg.get("volume", 0x20)
        if not isinstance(vol, int) or not 0 <= vol <= 254:
            raise ValueError("sink.volume must be 0 (loudest) .. 254")
        return vs1053.VS1053Sink(spi=cfg.get("spi", 2), volume=vol, mark=resumemark.for_board(),
                                 buttons=buttons, display=display, **kw)
    if kind == "pipe":
        import pipesink  # type: ignore[import-not-found]  # CPython only: not on a MicroPython board
        return pipesink.PipeSink(cfg.get("cmd"), buttons=buttons, display=display)
    raise ValueError("unknown sink type: %s" % kind)


def _display(d):
    import machine
    import display
    i2c = machine.I2C(d.get("i2c", 0), sda=machine.Pin(d["sda"]), scl=machine.Pin(d["scl"]))
    return display.Display(i2c, d.get("addr", 0x3C))
