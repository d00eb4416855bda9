"""Benchmarks: `python -m bench` (or `make bench`) measures the device client, the meta server
and the file server side by side with what a user would pick instead, and writes BENCHMARKS.md."""
