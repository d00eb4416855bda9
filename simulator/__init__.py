"""Runs devices on the desktop against real servers, with faults injected between them."""
