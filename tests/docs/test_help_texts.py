"""Every option and argument of the commands a user types has a help text (`--help` says what each
is), in every subcommand."""

import argparse
import importlib

import pytest


class Captured(Exception):
    pass


def parser_of(module, mocker):
    """The ArgumentParser a command's main builds, caught as it parses."""
    def capture(self, *args, **kwargs):
        raise Captured(self)
    mocker.patch.object(argparse.ArgumentParser, "parse_args", capture)
    with pytest.raises(Captured) as caught:
        importlib.import_module(module).main([])
    return caught.value.args[0]


def helpless(parser, where=""):
    out = []
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            out += ["%s %s (the command)" % (where, c.dest) for c in a._choices_actions if not c.help]
            for name, sub in a.choices.items():
                out += helpless(sub, "%s %s" % (where, name))
        elif not a.help and a.dest != "help":
            out.append("%s %s" % (where, "/".join(a.option_strings) or a.dest))
    return out


@pytest.mark.parametrize("module", ["host_server.cli", "host_server.fileserver", "tools.provision",
                                    "tools.flash", "tools.console", "simulator.console",
                                    "tools.owner", "tools.media"])
def test_every_option_has_help(module, mocker):
    assert helpless(parser_of(module, mocker)) == []
