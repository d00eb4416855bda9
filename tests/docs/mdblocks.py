"""The command blocks of the project's Markdown files, and a runner that types them as a user would.

A block is a fenced code block whose language is sh, bash, shell or console (for console, the
lines starting with `$ ` are the commands; the rest is output). An HTML comment on the lines just
before a fence says how the block is run:

    <!-- not run: needs a board -->             skipped, with its reason (a board, sudo, a server
                                                that runs until stopped, a network)
    <!-- given: printf 'x' > song.wav -->       a hidden step run first, for what a user would
                                                already have (their own song.wav)

The blocks of one file run in order in one scratch folder, as one user at one shell: each block is
its own `bash -e -o pipefail`, and what it exports carries over to the next block (as `export` in
an interactive shell would). HOME is a scratch folder too, and `.venv` in the working folder is
the venv the suite runs in, so `. .venv/bin/activate` works as it does in a clone.
"""

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field

from markdown_it import MarkdownIt

SHELLS = ("sh", "bash", "shell", "console")
MARK = re.compile(r"<!--\s*(not run|given)\s*:\s*(.*?)\s*-->", re.S)
# what a user's shell would not have: settings of the project read from the environment
CLEARED = ("META_DB", "META_MASTER_KEY_FILE", "META_SERVER", "OWNER_TOKEN", "PYTHONPATH",
           "VIRTUAL_ENV", "PYTHONHOME", "PASSWORD")


@dataclass
class Block:
    path: str          # the Markdown file, relative to the repository
    line: int          # the fence's line, 1-based
    lang: str
    text: str          # the commands, as a user types them
    skip: str = ""     # why it is not run ("" when it is)
    given: list = field(default_factory=list)

    @property
    def name(self):
        return "%s:%d" % (self.path, self.line)


def _commands(lang, content):
    if lang != "console":
        return content
    return "\n".join(line[2:] for line in content.splitlines() if line.startswith("$ "))


def blocks(repo, path):
    """Every command block of the Markdown file repo/path, in order."""
    with open(os.path.join(repo, path), encoding="utf-8") as f:
        source = f.read()
    lines = source.splitlines()
    found = []
    for tok in MarkdownIt("commonmark").parse(source):
        if tok.type != "fence":
            continue
        lang = (tok.info.split() or [""])[0]
        if lang not in SHELLS:
            continue
        start = tok.map[0]
        # the comments on the lines just before the fence (blank lines between them allowed)
        before = []
        i = start - 1
        while i >= 0:
            text = lines[i].strip()
            if not text:
                i -= 1
            elif text.endswith("-->"):
                j = i   # the comment's first line
                while j > 0 and "<!--" not in lines[j]:
                    j -= 1
                before.insert(0, "\n".join(lines[j:i + 1]))
                i = j - 1
            else:
                break
        b = Block(path, start + 1, lang, _commands(lang, tok.content))
        for comment in before:
            for kind, what in MARK.findall(comment):
                if kind == "not run":
                    b.skip = what
                else:
                    b.given.append(what)
        found.append(b)
    return found


class Shell:
    """One user's shell session across blocks: a working folder, a home, exported variables."""

    def __init__(self, scratch, venv=None):
        self.work = os.path.join(scratch, "work")
        self.home = os.path.join(scratch, "home")
        self.exports = os.path.join(scratch, "exports.sh")   # what the blocks exported
        self.cwd = os.path.join(scratch, "cwd")              # and the folder they left it in
        os.makedirs(self.work)
        os.makedirs(self.home)
        venv = venv or sys.prefix
        os.symlink(venv, os.path.join(self.work, ".venv"))
        env = {k: v for k, v in os.environ.items() if k not in CLEARED}
        env.update(HOME=self.home, PATH=os.path.join(venv, "bin") + os.pathsep + env.get("PATH", ""),
                   USER=env.get("USER", "user"), LC_ALL="C.UTF-8")
        self.env = env
        with open(self.exports, "w") as f:
            f.write("")
        with open(self.cwd, "w") as f:
            f.write(self.work)

    def run(self, block, timeout=180):
        """Run one block; returns the CompletedProcess (stdout and stderr merged)."""
        script = "\n".join([
            "set -e -o pipefail",
            'cd "$(cat %s)"' % shlex.quote(self.cwd),
            ". %s" % shlex.quote(self.exports),
            *block.given,
            block.text,
            "export -p > %s" % shlex.quote(self.exports),
            "pwd > %s" % shlex.quote(self.cwd),
        ])
        return subprocess.run(["bash", "-c", script], env=self.env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout)
