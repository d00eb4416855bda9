"""No firmware module rebinds a name inside another (the boot chain once worked only in one
import order because supervise and cpytransport did): collaborators are handed to the player.
Read from the sources, so a new module is checked too."""
import ast
import os
import sys

from tools.fwbuild import FIRMWARE, HW, ROOT


def _sources():
    for d in (FIRMWARE, HW):
        for name in sorted(os.listdir(d)):
            if name.endswith(".py"):
                yield os.path.join(d, name)


def _patches(path):
    """(line, 'module.name') of every assignment to an attribute of an imported module."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update((a.asname or a.name).split(".")[0] for a in node.names)
    out = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for t in targets:
            for el in (t.elts if isinstance(t, ast.Tuple) else [t]):
                if isinstance(el, ast.Attribute) and isinstance(el.value, ast.Name) \
                        and el.value.id in modules:
                    out.append((el.lineno, "%s.%s" % (el.value.id, el.attr)))
    return out


def test_no_module_rebinds_names_in_another():
    found = {os.path.relpath(p, ROOT): _patches(p) for p in _sources()}
    assert {p: v for p, v in found.items() if v} == {}


def test_the_check_sees_a_patch():
    src = "import compat\nimport devlog as d\n\ndef install():\n    compat.sleep_ms = None\n    d.emit, x = 1, 2\n"
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "fw-parts-%d.py" % os.getpid())
    with open(path, "w") as f:
        f.write(src)
    try:
        assert _patches(path) == [(5, "compat.sleep_ms"), (6, "d.emit")]
    finally:
        os.remove(path)


def test_a_board_hands_its_supervisor_to_the_player(monkeypatch):
    """boardmain.start gives the player the Supervisor's emit and sleep as its parts, and
    leaves compat and devlog as they were."""
    import compat
    import devlog
    sleep, emit = compat.sleep_ms, devlog.emit
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    import boardmain
    monkeypatch.setattr(boardmain, "_board_keys", lambda path: (None, 0, -1))
    code, parts = boardmain.start("unused.json")
    assert code == 0 and sorted(parts) == ["emit", "sleep_ms"]
    assert parts["emit"].__self__.__class__.__name__ == "Supervisor"
    assert compat.sleep_ms is sleep and devlog.emit is emit
