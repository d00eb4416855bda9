"""tools.console's failures as a user meets them: one line that says why and what to do."""

from tools import console


def test_a_port_that_is_not_there_says_so_and_what_to_do(tmp_path, capsys):
    assert console.main([str(tmp_path / "ttyUSB9")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot open %s: No such file or directory"
                                               % (tmp_path / "ttyUSB9"))
    assert "plugged in" in err[0] and "[Errno" not in err[0]


def test_a_log_that_cannot_be_written_is_one_line_and_opens_no_port(tmp_path, capsys, mocker):
    opened = mocker.patch("serial.serial_for_url")
    assert console.main(["/dev/ttyUSB0", "--log", str(tmp_path / "no" / "such" / "k.log")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write the log ") and "Traceback" not in err
    assert not opened.called
