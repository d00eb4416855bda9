"""Laptop tools: flash and deploy boards, the serial console, provisioning (python -m tools.X)."""
