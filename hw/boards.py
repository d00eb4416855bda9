# Board definitions as data: the port, the sink and its pins, the optional buttons and display.
# hw/README.md has the same pins as wiring tables (tests/hw/test_boards.py keeps them in step).
# A device config names its board in the sink object: {"type": "board", "board": "esp32-i2s"}.

BOARDS = {
    "esp32-i2s": {
        "port": "esp32",
        "about": "ESP32-DevKitC + I2S DAC (MAX98357A or PCM5102): WAV/PCM through machine.I2S",
        "sink": {"type": "i2s", "id": 0, "sck": 26, "ws": 25, "sd": 27},
        "buttons": {"next": 32, "pause": 33},
        "display": {"i2c": 0, "sda": 21, "scl": 22, "addr": 0x3C},
        "timer": 0,
    },
    "esp32-vs1053": {
        "port": "esp32",
        "about": "ESP32-DevKitC + VS1053 decoder over SPI: MP3, AAC, OGG, WAV",
        "sink": {"type": "vs1053", "spi": 2, "sck": 18, "mosi": 23, "miso": 19,
                 "xcs": 5, "xdcs": 16, "dreq": 4, "xreset": 17},
        "buttons": {"next": 32, "pause": 33},
        "display": {"i2c": 0, "sda": 21, "scl": 22, "addr": 0x3C},
        "timer": 0,
    },
    "picow-i2s": {
        "port": "rp2",
        "about": "Raspberry Pi Pico W + I2S DAC (MAX98357A or PCM5102): WAV/PCM",
        # rp2's I2S needs ws = sck + 1
        "sink": {"type": "i2s", "id": 0, "sck": 16, "ws": 17, "sd": 18},
        "buttons": {"next": 14, "pause": 15},
        "display": {"i2c": 0, "sda": 4, "scl": 5, "addr": 0x3C},
        "timer": -1,
    },
    "rpi-linux": {
        "port": "linux",
        "about": "Raspberry Pi on Linux (CPython): pipes each item to aplay (WAV) or mpg123 (MP3)",
        "sink": {"type": "pipe"},
    },
}


def board(name):
    """The definition of a board by name; ValueError names the known ones."""
    b = BOARDS.get(name)
    if b is None:
        raise ValueError("unknown board %s (known: %s)" % (name, ", ".join(sorted(BOARDS))))
    return b
