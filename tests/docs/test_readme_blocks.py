"""The READMEs, executed: every command block a user can run without hardware is typed as written,
in order, in a scratch folder with the suite's venv (tests/docs/mdblocks.py says how a block is
marked when it cannot run here: a board, sudo, a server that runs until stopped)."""

import os

import pytest

from mdblocks import SHELLS, blocks, Shell

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = ("README.md", "hw/README.md", "firmware/README.md")


def _tail(text, n=40):
    return "\n".join(text.splitlines()[-n:])


@pytest.mark.parametrize("doc", DOCS)
def test_every_runnable_block_runs_as_typed(doc, tmp_path):
    runnable = [b for b in blocks(REPO, doc) if not b.skip]
    if not runnable:
        pytest.skip("%s has no command block to run" % doc)
    shell = Shell(str(tmp_path))
    for b in runnable:
        r = shell.run(b)
        assert r.returncode == 0, "%s, as typed, failed (exit %d):\n%s\n--- output ---\n%s" % (
            b.name, r.returncode, b.text, _tail(r.stdout))


def test_every_block_not_run_says_why():
    """A block is run or marked with its reason; nothing is left out silently."""
    seen = 0
    for doc in DOCS:
        for b in blocks(REPO, doc):
            seen += 1
            assert b.lang in SHELLS
            if b.skip:
                assert len(b.skip) > 8, "%s: say why it is not run" % b.name
    assert seen > 10   # the parser found the README's blocks


def test_the_runner_fails_a_block_that_fails_and_carries_exports(tmp_path):
    """What the runner promises: exports and the folder carry over; a failing line fails."""
    doc = tmp_path / "doc.md"
    doc.write_text("text\n\n```sh\nexport A=1\nmkdir d && cd d\n```\n\n"
                   "<!-- given: export B=2 -->\n```sh\ntest \"$A$B\" = 12 && test \"${PWD##*/}\" = d\n```\n\n"
                   "<!-- not run: needs a board plugged in -->\n```sh\nfalse\n```\n\n"
                   "```console\n$ false | true\noutput\n```\n")
    found = blocks(str(tmp_path), "doc.md")
    assert [b.skip for b in found] == ["", "", "needs a board plugged in", ""]
    assert found[1].given == ["export B=2"]
    assert found[3].text == "false | true"
    shell = Shell(str(tmp_path / "scratch"))
    assert [shell.run(b).returncode for b in found[:2]] == [0, 0]
    assert shell.run(found[3]).returncode != 0   # pipefail: as strict as it can be


NOT_RUN = [b for doc in DOCS for b in blocks(REPO, doc) if b.skip]


@pytest.mark.parametrize("block", NOT_RUN, ids=[b.name for b in NOT_RUN])
def test_a_block_marked_not_run(block):
    """Listed by name in the suite's summary, with the reason the Markdown gives."""
    pytest.skip("%s not run: %s" % (block.name, block.skip))
