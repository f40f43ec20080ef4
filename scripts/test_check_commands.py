"""scripts/check_commands.py finds the commands a script runs, and fails on one nobody installs."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CHECK = Path(__file__).with_name("check_commands.py")


def run(tmp_path: Path, files: dict[str, str], table: str) -> subprocess.CompletedProcess:
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    (tmp_path / "commands.txt").write_text(textwrap.dedent(table))
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "add", "."], check=True)
    return subprocess.run(
        [sys.executable, str(CHECK), "--root", str(tmp_path), "--table", str(tmp_path / "commands.txt")],
        capture_output=True,
        text=True,
    )


SCRIPT = """\
    #!/usr/bin/env bash
    helper() { grep -q x "$1"; }
    ensure_apt() { :; }
    ensure_apt nginx
    case "$1" in
      up | down) nginx -t ;;
      status)
        echo "$(date +%s) $(curl -s http://127.0.0.1/)" 2>/dev/null ;;
    esac
    NAMES=(alpha beta gamma)
    for n in "${NAMES[@]}"; do helper "$n"; done
    python3 - <<'PY'
    import notacommand
    PY
    timeout 5 env -u HOME sleep 1 || true
    x=$((1 + 2)) && [[ a == b && c ]] && echo "$x"
    """


def test_a_script_whose_commands_all_have_rows_passes(tmp_path):
    table = """\
        grep base
        date base
        curl base
        python3 base
        timeout base
        env base
        sleep base
        nginx apt:nginx
        """
    r = run(tmp_path, {"a.sh": SCRIPT}, table)
    assert r.returncode == 0, r.stderr
    # case patterns, array items, loop words, here-document bodies and test operands are not commands
    assert "8 commands run by the scripts" in r.stdout, r.stdout


def test_a_command_without_a_row_fails_and_names_its_place(tmp_path):
    r = run(tmp_path, {"a.sh": SCRIPT}, "grep base\ndate base\npython3 base\ntimeout base\nenv base\nsleep base\nnginx apt:nginx\n")
    assert r.returncode == 1
    assert "`curl` is run (a.sh:8)" in r.stderr, r.stderr


def test_a_package_no_script_installs_fails(tmp_path):
    # the podman case: iptables is run by netavark, and nothing installed it
    table = "grep base\ndate base\ncurl base\npython3 base\ntimeout base\nenv base\nsleep base\nnginx apt:nginx\niptables apt:iptables (indirect)\n"
    r = run(tmp_path, {"a.sh": SCRIPT}, table)
    assert r.returncode == 1
    assert "iptables, which no ensure_apt call installs" in r.stderr, r.stderr


@pytest.mark.parametrize(
    "code, cmd",
    [
        ('subprocess.run(["nsenter", "--net=x"])', "nsenter"),
        ('std::process::Command::new("haproxy")', "haproxy"),
    ],
)
def test_python_and_rust_programs_are_found(tmp_path, code, cmd):
    name = "a.py" if "subprocess" in code else "a.rs"
    r = run(tmp_path, {name: code + "\n"}, "grep base\n")
    assert r.returncode == 1
    assert f"`{cmd}` is run" in r.stderr, r.stderr


def test_an_optional_command_must_be_checked_for(tmp_path):
    files = {"a.sh": "#!/usr/bin/env bash\nvegeta attack\n"}
    r = run(tmp_path, files, "vegeta optional\n")
    assert r.returncode == 1 and "no script checks `command -v vegeta`" in r.stderr, r.stderr
    files = {"a.sh": "#!/usr/bin/env bash\ncommand -v vegeta >/dev/null && vegeta attack\n"}
    r = run(tmp_path, files, "vegeta optional\n")
    assert r.returncode == 0, r.stderr
