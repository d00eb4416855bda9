"""The rules of the meta server's data, pure: no database, no network, no web stack.

errors (the domain errors every layer raises and the API and CLI map), checks (the forms of
numbers, hex and ids), catalog (media records, source URLs, the compact and full documents),
secure (a secure item's part of a record), sealing (the master key; keys sealed at rest and
wrapped for a device), display (how a time or a text is shown to a person).
"""
