"""The meta server's layers keep to their imports (docs/ARCHITECTURE.md): a CLI command loads
neither the web stack nor asyncpg, the pure model imports no database, the database no service."""

import ast
import pathlib
import subprocess
import sys

from hostutil import REPO

PACKAGE = pathlib.Path(REPO) / "host_server"
# layer -> what its modules must not import (project modules by dotted prefix, or libraries)
FORBIDDEN = {
    "settings.py": ("host_server.", "aiohttp", "asyncpg", "cryptography"),
    "metrics.py": ("host_server.", "aiohttp", "asyncpg"),   # keys.py imports it
    "model": ("host_server.db", "host_server.services", "host_server.api", "host_server.cli",
              "host_server.dashboard", "host_server.outbound", "host_server.app",
              "host_server.keys", "aiohttp", "asyncpg"),
    "db": ("host_server.services", "host_server.api", "host_server.cli", "host_server.dashboard",
           "host_server.outbound", "host_server.app", "host_server.keys", "aiohttp"),
    "services": ("host_server.api", "host_server.cli", "host_server.dashboard",
                 "host_server.outbound", "host_server.app", "host_server.keys", "aiohttp", "asyncpg"),
    "outbound": ("host_server.api", "host_server.cli", "host_server.dashboard", "host_server.app"),
    "api": ("host_server.cli",),
    "dashboard": ("host_server.cli",),
}
NEVER = ("firmware", "simulator", "tools", "hw")   # the meta server meets the device over HTTP


def _imports(path):
    """(dotted name, top level?) of every import in a module, relative ones resolved."""
    module = ".".join(path.relative_to(REPO).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, id(node) in top
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names = [base + "." + a.name for a in node.names] if not node.module else [base]
            for name in names:
                yield name, id(node) in top


def _layer(path):
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.name


def test_every_layer_imports_only_what_it_may():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        forbidden = FORBIDDEN.get(_layer(path), ())
        for name, at_top in _imports(path):
            if name.split(".")[0] in NEVER:
                wrong.append(f"{path.relative_to(REPO)} imports {name}")
            if any(name == f.rstrip(".") or name.startswith(f.rstrip(".") + ".") for f in forbidden):
                wrong.append(f"{path.relative_to(REPO)} imports {name}")
    assert wrong == []


def test_only_the_postgres_engine_imports_asyncpg_and_only_serve_imports_the_app():
    for path in sorted((PACKAGE / "db").rglob("*.py")):
        names = [n for n, _ in _imports(path)]
        assert ("asyncpg" in names) == (path.name == "postgres.py"), path
        if path.name == "__init__.py":   # the engine modules are imported when a target is opened
            top = [n for n, at_top in _imports(path) if at_top]
            assert not any(n.startswith(("host_server.db.postgres", "host_server.db.sqlite")) for n in top)
    for path in sorted((PACKAGE / "cli").rglob("*.py")):
        top = [n for n, at_top in _imports(path) if at_top]
        assert not any(n.startswith(("aiohttp", "asyncpg", "host_server.app", "host_server.api",
                                     "host_server.keys", "host_server.serving",
                                     "host_server.outbound")) for n in top), path


def test_a_cli_command_imports_neither_aiohttp_nor_asyncpg(tmp_path):
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "host_server",
                           "--db", str(tmp_path / "meta.db"), "list", "media"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "(none)"
    loaded = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "host_server.cli" in loaded and "host_server.db.sqlite" in loaded   # the check sees
    assert not {m for m in loaded if m.split(".")[0] in ("aiohttp", "asyncpg", "jinja2",
                                                         "aiohttp_jinja2", "yarl", "multidict")}
