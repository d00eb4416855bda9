# boot.py: runs first on every reset of a board, before main.py. Kept minimal: the serial console
# carries only the firmware's own lines (no ESP-IDF debug output), and the heap starts clean.
import gc

try:
    import esp  # type: ignore[import-not-found]  # ESP32 only
    esp.osdebug(None)
except ImportError:  # not an ESP32
    pass
gc.collect()
