# The firmware's version: sent at login ("fw", PROTOCOL.md), shown on the dashboard. The same
# string is package.json's "version" (mip) and pyproject.toml's (tests/firmware/test_fw_package.py).
VERSION = "0.13.0"
