"""The operator dashboard: server-rendered pages behind a password sign-in.

setup.setup_dashboard registers it on the app; accounts.py is the add-operator command. This
file imports nothing, so that the command line does not load the web stack.
"""
