"""``facilbot lint``: output formats, colour and exit codes."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from facilbot.cli import main
from facilbot.commands.lint import use_colour
from tests.runofshow.test_lint import BAD_KICKOFF, FORBIDDEN, GOOD, ROOT, edit

# Only advice: access not declared.
ADVICE = edit(GOOD, ("access: {recording: true, captions: true, transcript: false}\n", ""))
# Only a warning: talk share over a lowered limit.
WARNING = edit(GOOD, ("segments:\n", "rules: {talk_share_max: 10%}\nsegments:\n"))
INVALID = edit(GOOD, ("    kind: talk\n", "    kind: talk\n    lenght: 3m\n"))
LINE = re.compile(
    r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning|advice) "
    r"(?P<code>FB\d{3}) (?P<msg>.+)$"
)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def lint(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["lint", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_clean_file_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = lint([write(tmp_path, "good.yaml", GOOD)], capsys)
    assert (code, out, err) == (0, "1 file checked: clean\n", "")


@pytest.mark.parametrize(("text", "severity"), [(ADVICE, "advice"), (WARNING, "warning")])
def test_advice_and_warnings_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, severity: str
) -> None:
    path = write(tmp_path, "show.yaml", text)
    code, out, _ = lint([path], capsys)
    lines = out.splitlines()
    assert code == 0
    assert len(lines) == 2
    match = LINE.match(lines[0])
    assert match and match["file"] == path and match["sev"] == severity
    assert lines[1] == f"1 file checked: 1 {severity}"


def test_error_exits_1_with_compiler_style_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "bad.yaml", BAD_KICKOFF)
    code, out, _ = lint([path], capsys)
    assert code == 1
    first, summary = out.splitlines()
    assert first.startswith(
        f"{path}:12:5: error FB101 10 minutes without an interaction, 0:05–0:15"
    )
    assert "\033[" not in out  # captured output is not a terminal
    assert summary == "1 file checked: 1 error"


def test_unreadable_and_invalid_files_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "missing.yaml")
    code, out, err = lint([missing], capsys)
    assert code == 2 and err == ""
    assert out.splitlines()[0] == f"{missing}:1:1: error no such file"

    invalid = write(tmp_path, "invalid.yaml", INVALID)
    bad = write(tmp_path, "bad.yaml", BAD_KICKOFF)
    code, out, _ = lint([bad, invalid], capsys)
    assert code == 2  # an unreadable file wins over error findings
    lines = out.splitlines()
    assert lines[0].startswith(f"{bad}:12:5: error FB101 ")
    assert re.match(
        rf"{re.escape(invalid)}:14:5: error unknown key 'lenght' in segment 'kickoff'", lines[1]
    )
    assert lines[-1] == "2 files checked: 1 not readable or not valid, 1 error"


def test_binary_file_is_a_clear_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "show.yaml"
    path.write_bytes(b"title: x\n\xff\xfe\x00garbage")
    code, out, err = lint([str(path)], capsys)
    assert code == 2 and err == ""
    assert out.startswith(f"{path}:2:1: error not UTF-8 text")


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, "bad.yaml", BAD_KICKOFF)
    advice = write(tmp_path, "advice.yaml", ADVICE)
    missing = str(tmp_path / "missing.yaml")
    code, out, _ = lint(["--format", "json", bad, advice, missing], capsys)
    assert code == 2
    data = json.loads(out)
    assert data["exit_code"] == 2
    assert data["findings"][0] == {
        "file": bad,
        "line": 12,
        "column": 5,
        "severity": "error",
        "code": "FB101",
        "rule": "interaction-cadence",
        "message": data["findings"][0]["message"],
        "path": ["segments", 1],
    }
    assert [f["code"] for f in data["findings"]] == ["FB101", "FB602"]
    assert data["files"] == [
        {"file": bad, "status": "checked", "errors": 1, "warnings": 0, "advice": 0, "problems": []},
        {
            "file": advice,
            "status": "checked",
            "errors": 0,
            "warnings": 0,
            "advice": 1,
            "problems": [],
        },
        {
            "file": missing,
            "status": "unreadable",
            "errors": 0,
            "warnings": 0,
            "advice": 0,
            "problems": [{"file": missing, "line": 1, "column": 1, "message": "no such file"}],
        },
    ]


def test_colour(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "bad.yaml", BAD_KICKOFF)
    code, out, _ = lint(["--color", "always", path], capsys)
    assert code == 1
    assert "\033[1;31merror FB101\033[0m" in out
    assert "\033[" not in lint(["--color", "never", path], capsys)[1]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_colour_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    assert use_colour("auto", Terminal()) is True
    assert use_colour("auto", io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_colour("auto", Terminal()) is False
    assert use_colour("always", io.StringIO()) is True
    monkeypatch.setenv("NO_COLOR", "")  # empty means unset, per no-color.org
    assert use_colour("auto", Terminal()) is True


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["lint", "--format", "xml", "show.yaml"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_the_installed_command_in_a_subprocess(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", BAD_KICKOFF)
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    result = subprocess.run(
        [sys.executable, "-m", "facilbot.cli", "lint", bad],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == ""
    assert result.stdout.splitlines()[0].startswith(f"{bad}:12:5: error FB101 ")


def test_the_lint_command_loads_no_web_database_or_platform_package() -> None:
    code = "import facilbot.cli, facilbot.commands.lint, sys; print(' '.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    allowed = {"facilbot"}
    loaded = sorted(({m.split(".")[0] for m in out} & set(FORBIDDEN)) - allowed)
    assert loaded == []
    facilbot_modules = sorted(m for m in out if m.startswith("facilbot."))
    assert facilbot_modules == ["facilbot.cli", "facilbot.commands", "facilbot.commands.lint"]
