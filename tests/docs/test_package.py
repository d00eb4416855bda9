"""The project as a package (pyproject.toml): installed in the venv, its commands work from any
folder, its dependencies are split by who needs them and every one is pinned in the lock."""

import os
import re
import subprocess
import sys
import tomllib

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(REPO, "pyproject.toml"), "rb") as _f:
    PROJECT = tomllib.load(_f)
SCRIPTS = PROJECT["project"]["scripts"]
EXTRAS = PROJECT["project"]["optional-dependencies"]
TEST_TOOLS = {"pytest", "pytest-xdist", "pytest-asyncio", "pytest-aiohttp", "pytest-mock",
              "pytest-timeout", "playwright", "schemathesis", "mypy", "hypothesis"}


def _name(requirement):
    return re.split(r"[<>=!~\[ ;]", requirement, 1)[0].lower().replace("_", "-")


def _lock():
    pins = {}
    with open(os.path.join(REPO, "requirements.txt")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                name, sep, version = line.partition("==")
                assert sep, "requirements.txt pins exactly: %s" % line
                pins[_name(name)] = version
    return pins


def _clean_env():
    """A user's environment: nothing points Python at the clone."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "META_DB")}


def test_every_dependency_is_pinned_in_the_lock():
    pins = _lock()
    names = {_name(r) for deps in EXTRAS.values() for r in deps} - {"media-network"}
    assert names and not names - set(pins), "not pinned in requirements.txt: %s" % (names - set(pins))


def test_an_operator_hosting_the_meta_server_installs_no_test_tools():
    def expand(extra):
        out = set()
        for r in EXTRAS[extra]:
            m = re.match(r"media-network\[(.*)\]", r)
            out |= set().union(*(expand(e) for e in m.group(1).split(","))) if m else {_name(r)}
        return out
    for extra in ("server", "postgres", "tools"):
        assert not expand(extra) & TEST_TOOLS, extra
    assert {"aiohttp", "cryptography", "jinja2"} <= expand("server")
    assert TEST_TOOLS <= expand("dev")
    assert not PROJECT["project"]["dependencies"]


def test_the_project_is_installed_in_the_venv_from_this_clone(tmp_path):
    r = subprocess.run([sys.executable, "-c", "import host_server, tools, simulator, bench;"
                        "print(host_server.__file__)"], cwd=tmp_path, env=_clean_env(),
                       capture_output=True, text=True)
    assert r.returncode == 0, "the project is not installed in %s (`make venv`): %s" % (
        sys.prefix, r.stderr)
    assert os.path.dirname(os.path.dirname(r.stdout.strip())) == REPO, (
        "the venv's install of the project is another clone's: %s (`make venv` here)" % r.stdout)


@pytest.mark.parametrize("command", sorted(SCRIPTS))
def test_each_command_runs_from_any_folder(command, tmp_path):
    path = os.path.join(os.path.dirname(sys.executable), command)
    assert os.path.exists(path), "%s is not installed (`make venv`)" % command
    r = subprocess.run([path, "--help"], cwd=tmp_path, env=_clean_env(), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "usage:" in r.stdout


@pytest.mark.parametrize("module", ["host_server", "host_server.fileserver", "tools.owner",
                                    "tools.media", "tools.provision", "tools.flash",
                                    "tools.console", "simulator", "simulator.console"])
def test_python_m_runs_from_any_folder(module, tmp_path):
    r = subprocess.run([sys.executable, "-m", module, "--help"], cwd=tmp_path, env=_clean_env(),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_the_package_data_is_every_file_the_code_reads_beside_it():
    """Each non-Python file in host_server/ is named by a package-data pattern (a wheel built from
    pyproject.toml carries it: migrations, dashboard templates, nginx configs)."""
    import fnmatch
    patterns = PROJECT["tool"]["setuptools"]["package-data"]["host_server"]
    base = os.path.join(REPO, "host_server")
    for folder, dirs, files in os.walk(base):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            rel = os.path.relpath(os.path.join(folder, name), base)
            if not name.endswith(".py"):
                assert any(fnmatch.fnmatch(rel, p) for p in patterns), "%s: not package data" % rel


def test_a_database_is_made_from_any_folder_with_its_migrations(tmp_path):
    r = subprocess.run([sys.executable, "-m", "host_server", "--db", "new/meta.db", "init"],
                       cwd=tmp_path, env=_clean_env(), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "schema version" in r.stdout and (tmp_path / "new" / "meta.db").exists()


def test_the_simulator_command_plays_the_demo_from_any_folder(tmp_path):
    """More than --help: the command's function is the simulator's whole run."""
    path = os.path.join(os.path.dirname(sys.executable), "media-simulator")
    r = subprocess.run([path, "--interpreter", "cpython", "--faults", "none", "--sink", "null",
                        "--no-streams", "--workdir", str(tmp_path / "sim")], cwd=tmp_path, env=_clean_env(),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1].startswith("RESULT items=10 verified=10")


# which extra each package's imports must be covered by (with the extras they include)
NEEDS = {"host_server": ("server", "postgres"), "tools": ("tools",), "simulator": ("sim",),
         "bench": ("dev",)}


def _expand(extra):
    out = set()
    for r in EXTRAS[extra]:
        m = re.match(r"media-network\[(.*)\]", r)
        out |= set().union(*(_expand(e) for e in m.group(1).split(","))) if m else {_name(r)}
    return out


def _third_party_imports(package):
    """{top-level module: first file importing it} of a package's modules, stdlib, the project's
    own packages and the firmware's flat modules (firmware/, hw/: put on sys.path for checks)
    left out."""
    import ast
    # bench (run from the repo, with the dev extra) also reuses the stand-in servers of
    # tests/firmware
    folders = ("firmware", "firmware/cpython", "hw") + (("tests/firmware",) if package == "bench" else ())
    local = set(NEEDS) | {p[:-3] for d in folders
                          for p in os.listdir(os.path.join(REPO, d)) if p.endswith(".py")}
    found = {}
    for folder, dirs, files in os.walk(os.path.join(REPO, package)):
        # bench/mp: scripts the micropython interpreter runs, not the host
        dirs[:] = [d for d in dirs if d != "__pycache__" and (package, d) != ("bench", "mp")]
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    tops = [a.name.split(".")[0] for a in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    tops = [node.module.split(".")[0]]
                else:
                    continue
                for top in tops:
                    if top not in sys.stdlib_module_names and top not in local:
                        found.setdefault(top, os.path.relpath(path, REPO))
    return found


@pytest.mark.parametrize("package", sorted(NEEDS))
def test_what_each_package_imports_is_in_its_extra(package):
    """A library a package imports is a dependency of the extra that installs it (a new import
    without its line in pyproject.toml fails here, not on an operator's machine)."""
    import importlib.metadata
    dists = importlib.metadata.packages_distributions()
    allowed = set().union(*(_expand(e) for e in NEEDS[package]))
    missing = {}
    for module, where in _third_party_imports(package).items():
        names = {_name(d) for d in dists.get(module, [])}
        assert names, "%s imports %s, which no installed distribution provides" % (where, module)
        if not names & allowed:
            missing[module] = (where, sorted(names))
    assert not missing, "imported but not in extras %s of pyproject.toml: %s" % (NEEDS[package], missing)


def test_a_wheel_carries_the_package_data(tmp_path):
    """Built from a copy of the tracked files (a build writes beside its sources): the wheel holds
    the migrations, templates, nginx configs and a copy of docs/openapi.yaml, which the meta
    server reads beside its modules when installed from it."""
    import shutil
    import zipfile
    src = tmp_path / "src"
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.split()
    for name in files:
        if name.startswith(("host_server/", "tools/", "simulator/", "bench/", "docs/")) or \
                name in ("pyproject.toml", "README.md"):
            os.makedirs(src / os.path.dirname(name), exist_ok=True)
            path = os.path.join(REPO, name)
            if os.path.islink(path):
                os.symlink(os.readlink(path), src / name)
            else:
                shutil.copyfile(path, src / name)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--disable-pip-version-check",
                        str(src), "-w", str(tmp_path / "dist")], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").iterdir()
    names = set(zipfile.ZipFile(wheel).namelist())
    data = [n for n in files if n.startswith("host_server/") and not n.endswith(".py")]
    assert data and not [n for n in data if n not in names]
    with zipfile.ZipFile(wheel) as z, open(os.path.join(REPO, "docs", "openapi.yaml"), "rb") as f:
        assert z.read("host_server/api/openapi.yaml") == f.read()
