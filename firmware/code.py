# code.py: what a CircuitPython board runs at boot. Wi-Fi through `wifi.radio` (the networks of
# the config's "wifi" list, in order), sockets from `socketpool`, HTTP through adafruit_requests
# (cpytransport), then the same player as on MicroPython. Copy with the firmware and
# adafruit_requests.mpy + adafruit_connection_manager.mpy (circup install adafruit_requests).
# On the desktop, `python3 firmware/code.py CONFIG.json` runs the same path over CPython's socket
# module (how the tests run it against the real servers).
import json
import sys


def _session(cfg):
    import adafruit_requests
    try:
        import socketpool
        import ssl
        import wifi
    except ImportError:  # CPython: the socket module is the pool
        import socket
        import ssl
        return adafruit_requests.Session(socket, ssl.create_default_context())
    for net in cfg.get("wifi") or ():
        try:
            wifi.radio.connect(net["ssid"], net.get("password", ""))
            print("I wifi %s up, address %s" % (net["ssid"], wifi.radio.ipv4_address))
            break
        except (ConnectionError, OSError) as e:
            print("W wifi %s: %s" % (net["ssid"], e))
    pool = socketpool.SocketPool(wifi.radio)
    # httpconn imports socket and select for the native client, which this path does not use
    sys.modules["socket"] = pool
    try:
        import select  # noqa: F401
    except ImportError:
        class _Select:
            POLLIN, POLLOUT, POLLERR, POLLHUP = 1, 4, 8, 16
        sys.modules["select"] = _Select
    return adafruit_requests.Session(pool, ssl.create_default_context())


def main(path):
    with open(path) as f:
        cfg = json.load(f)
    session = _session(cfg)
    import cpytransport
    import device
    return device.main(["code.py", path], transport=cpytransport.transport(session))


if __name__ == "__main__":
    code = main(sys.argv[1] if len(sys.argv) > 1 else "config.json")
    if sys.implementation.name == "cpython":
        sys.exit(code)
