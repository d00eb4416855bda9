"""tools.flash build --out as typed: a build replaces its folder, so only a new, empty or earlier
build's folder is taken (`--out .` used to empty the folder it was typed in); a folder that cannot
be made is one line, not a traceback."""

from tools import flash


def test_a_folder_of_other_files_is_refused_and_left_as_it_was(tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("keep me")
    assert flash.main(["build", "--board", "esp32-i2s", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "holds files that are not a build" in err and "Traceback" not in err
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_a_new_folder_then_the_same_build_again(tmp_path, capsys):
    out = tmp_path / "build" / "esp32-i2s"
    assert flash.main(["build", "--board", "esp32-i2s", "--out", str(out)]) == 0
    first = sorted(p.name for p in out.iterdir())
    assert flash.main(["build", "--board", "esp32-i2s", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == first
    assert ".deployed.json" in first


def test_a_folder_that_cannot_be_made_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert flash.main(["build", "--board", "esp32-i2s", "--out", str(tmp_path / "file" / "b")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "error: error" not in err[0]
    assert flash.main(["build", "--board", "esp32-i2s", "--out", str(tmp_path / "file")]) == 1
    assert "is a file" in capsys.readouterr().err
