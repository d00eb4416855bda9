"""Each setting has one home, settings.TABLE: its default is the Settings dataclass's, the
`serve` option's, and the one the README's settings table states."""

import pathlib

import pytest

from host_server import settings
from host_server.cli import _parser
from hostutil import REPO


def test_the_readme_states_every_setting_with_its_table_default():
    readme = (pathlib.Path(REPO) / "README.md").read_text()
    assert settings.markdown_table() in readme


def test_settings_serve_options_and_the_table_agree():
    parser, _ = _parser()
    args = parser.parse_args(["serve"])
    made = settings.from_options(args)
    for s in settings.TABLE:
        default = tuple(s.default) if s.kind == "list" else s.default
        assert getattr(settings.Settings(), s.name) == default, s.name
        if s.scope == "serve":
            assert getattr(made, s.name) == default, s.name
    assert made.probe_interval == 30.0   # what an operator gets, from the CLI and init_app alike


def test_serve_options_set_every_serve_setting():
    parser, _ = _parser()
    argv = ["serve"]
    for s in settings.TABLE:
        if s.scope == "serve" and s.kind != "list":
            argv += [s.flag, "7"]
    argv += ["--trusted-proxy", "10.0.0.1", "--trusted-proxy", "10.0.0.2"]
    made = settings.from_options(parser.parse_args(argv))
    for s in settings.TABLE:
        if s.scope == "serve" and s.kind != "list":
            assert getattr(made, s.name) == ("7" if s.kind == "text" else 7), s.name
    assert made.trusted_proxies == ("10.0.0.1", "10.0.0.2")


def test_global_settings_come_from_their_environment_variables():
    env = {"META_DB": "/srv/meta.db", "META_MASTER_KEY_FILE": "/srv/key"}
    assert settings.default("db", env) == "/srv/meta.db"
    assert settings.default("master_key_file", env) == "/srv/key"
    assert settings.default("db", {}) == "meta.db" and settings.default("master_key_file", {}) is None


@pytest.mark.parametrize("name, value", [("token_ttl", 0), ("max_body", -1), ("nonce_ttl", 1.5),
                                         ("probe_timeout", 0), ("probe_interval", -1),
                                         ("failure_window", True)])
def test_a_bad_setting_is_refused_by_name(name, value):
    with pytest.raises(ValueError, match=name):
        settings.Settings(**{name: value})
    assert settings.Settings(probe_interval=0).probe_interval == 0
