"""The operator dashboard: server-rendered pages behind a password sign-in.

setup.setup_dashboard registers it on the app; passwords.py hashes operators' passwords (the
CLI's add-operator uses it too). This file imports nothing, so that the command line does not
load the web stack.
"""
