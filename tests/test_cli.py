"""The command line: errors without tracebacks, the verb structure, a fast --help."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import neuralpaint
from neuralpaint.cli import main

ROOT = Path(__file__).resolve().parents[1]


def fails(capsys, argv: list[str], message: str) -> str:
    """Run the command; assert exit status 2 and ``message`` on one ``error:`` line."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = next(line for line in err.splitlines() if line.startswith("error: "))
    assert message in line, err
    return line


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    """Run each command in its own folder, so default outputs (runs/agent-...) never land
    in the repository."""
    monkeypatch.chdir(tmp_path)


# ----------------------------------------------------------------------- errors


def test_unknown_agent(capsys, tmp_path):
    fails(capsys, ["agent", "train", "no-such-agent"], "unknown agent 'no-such-agent'")
    assert not (tmp_path / "runs").exists()  # the failed run left no empty folder


def test_budget_without_unit(capsys, tmp_path):
    out = str(tmp_path / "a")
    fails(capsys, ["agent", "train", "random", "--budget", "5", "--out", out], "budget '5'")


def test_missing_target_image(capsys, tmp_path):
    missing = str(tmp_path / "missing.png")
    fails(capsys, ["agent", "paint", "--agent", "amortized-mnist", "--target", missing], missing)


def test_missing_agent_folder(capsys, tmp_path):
    argv = ["agent", "paint", "--agent", str(tmp_path / "nothing"), "--target", "x.png"]
    fails(capsys, argv, "is neither a saved agent folder")


def test_unknown_env_id_lists_the_ids(capsys, tmp_path):
    argv = ["agent", "train", "random", "--env", "NoSuch-v0", "--out", str(tmp_path / "a")]
    line = fails(capsys, argv, "unknown environment id 'NoSuch-v0'")
    assert "NeuralPaint-MNIST-Grid-v0" in line


def test_kmnist_without_data(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("NEURALPAINT_DATA", str(tmp_path))
    argv = ["bench", "agents", "--agents", "random", "--env", "NeuralPaint-KMNIST-v0"]
    fails(capsys, [*argv, "--preset", "tiny", "--results", str(tmp_path)], "kmnist")


def test_out_under_a_file(capsys, tmp_path):
    (tmp_path / "file").write_text("x")
    argv = ["agent", "train", "random", "--budget", "1steps", "--out", str(tmp_path / "file/a")]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument --out:" in err and "which is a file, not a folder" in err


def test_unknown_agent_arg_lists_the_valid_keys(capsys, tmp_path):
    argv = ["agent", "train", "amortized", "--agent-arg", "nosuch=1"]
    line = fails(capsys, [*argv, "--out", str(tmp_path / "a")], "no argument 'nosuch'")
    assert "batch_size" in line and "lr" in line


def test_agent_json_without_task_is_corrupt(capsys, tmp_path):
    (tmp_path / "agent.json").write_text(json.dumps({"agent": "random", "seed": 0, "kwargs": {}}))
    argv = ["agent", "paint", "--agent", str(tmp_path), "--target", "x.png"]
    fails(capsys, argv, "is corrupt (no 'task' field)")


def test_debug_shows_the_traceback(capsys, tmp_path):
    assert main(["agent", "train", "no-such-agent", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown agent") and len(err.strip().splitlines()) == 1
    with pytest.raises(ValueError, match="unknown agent"):
        main(["agent", "train", "no-such-agent", "--debug"])


# ----------------------------------------------------------------- nothing lost


def test_train_refuses_to_overwrite_a_saved_agent(capsys, tmp_path):
    argv = ["agent", "train", "random", "--budget", "1steps", "--out", str(tmp_path)]
    assert main(argv) == 0
    fails(capsys, argv, "already holds a saved agent")
    assert main([*argv, "--overwrite"]) == 0
    assert main([*argv, "--resume"]) == 0


def test_resume_with_nothing_to_resume(capsys, tmp_path):
    argv = ["agent", "train", "random", "--resume", "--out", str(tmp_path)]
    fails(capsys, argv, "no saved agent in")


# -------------------------------------------------------------------- structure


def test_painter_flag_is_spelled_name_at_painter(capsys, tmp_path):
    argv = ["agent", "train", "random", "--budget", "1steps", "--out", str(tmp_path)]
    assert main([*argv, "--painter", "regression"]) == 0
    assert "use random@regression" in capsys.readouterr().err
    saved = json.loads((tmp_path / "agent.json").read_text())
    assert saved["task"]["painter"] == "regression" and saved["trains_on"] is None


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"neuralpaint {neuralpaint.__version__}"


def test_a_suite_refuses_flags_it_does_not_use(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "throughput", "--seeds", "3"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: --seeds" in capsys.readouterr().err


def test_suite_help_shows_only_its_flags(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "throughput", "--help"])
    out = capsys.readouterr().out
    assert "--preset" in out and "--seeds" not in out and "--agents" not in out


def test_device_and_threads_share_their_defaults():
    from neuralpaint.cli import build_parser

    parser = build_parser()
    commands = [
        ["agent", "train", "random"],
        ["painter", "train"],
        ["visualize", "--class", "violin"],
        ["stylize"],
        ["bench", "parameterization"],
    ]
    for argv in commands:
        args = parser.parse_args(argv)
        assert (args.device, args.threads) == ("auto", 0), argv
    assert parser.parse_args(["bench", "convergence"]).device == "auto"


# ---------------------------------------------------------------- a fast --help


def test_help_does_not_import_torch():
    code = (
        "import sys\n"
        "from neuralpaint.cli import build_parser\n"
        "parser = build_parser()\n"
        "parser.format_help()\n"
        "for argv in (['bench', 'convergence', '-h'], ['agent', 'train', '-h']):\n"
        "    try:\n"
        "        parser.parse_args(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = [m for m in ('torch', 'stable_baselines3', 'matplotlib') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_python_dash_m_runs_the_command():
    out = subprocess.run(
        [sys.executable, "-m", "neuralpaint", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and out.stdout.startswith("neuralpaint ")


# ----------------------------------------------------------------------- report


def test_report_elsewhere_names_its_folder_and_leaves_the_readme(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no README.md here: the report must not need one
    results = tmp_path / "elsewhere"
    fails(capsys, ["bench", "report", "--results", str(results)], "--results")
    assert not results.exists()  # a missing folder is refused, not made
    results.mkdir()
    assert main(["bench", "report", "--results", str(results)]) == 0
    claims = (results / "claims.md").read_text()
    assert f"`{results.as_posix()}/`" in claims and "`results/`" not in claims
    assert not (tmp_path / "README.md").exists()
    fails(capsys, ["bench", "report", "--results", str(results), "--readme"], "--readme")
    # refused before any suite runs
    fails(capsys, ["bench", "all", "--results", str(results), "--readme"], "--readme")
    assert not (results / "throughput").exists()
