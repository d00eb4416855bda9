"""The meta server as an HTTP client of owners' file servers: the background health probe
(probe) and the check of a source at registration (sourcecheck). Both use aiohttp's client."""
