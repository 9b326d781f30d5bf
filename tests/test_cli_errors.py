"""The command line's errors: flags refused by name before any work, user errors on one
line, bugs with their traceback and a request to report them."""

import argparse
import json
from dataclasses import fields

import numpy as np
import pytest

from neuralpaint.cli import BUG_REPORT, EXIT_BUG, SUITE_RUNNERS, build_parser, main
from neuralpaint.errors import UserError, UserValueError, user_errors


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    """Default outputs (runs/..., results/...) go to a scratch folder, not the repository."""
    monkeypatch.chdir(tmp_path)


def refused(capsys, argv: list[str], flag: str, message: str) -> str:
    """argparse refuses the value of ``flag`` with ``message``, status 2, no traceback."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"argument {flag}: " in err and message in err, err
    return err


def fails(capsys, argv: list[str], message: str) -> str:
    """The command exits with status 2 and ``message`` on its one ``error:`` line."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("error: ") and message in err, err
    return err


@pytest.mark.parametrize(
    "argv",
    [
        ["agent", "train", "random"],
        ["painter", "train"],
        ["visualize", "--class", "violin"],
        ["stylize"],
        ["bench", "convergence"],
        ["bench", "transfer"],
        ["bench", "parameterization"],
    ],
)
def test_a_bogus_device_is_refused_by_name(capsys, argv):
    refused(capsys, [*argv, "--device", "bogus"], "--device", "'bogus' is not a device")


def test_devices_that_are_accepted():
    parser = build_parser()
    for device in ("cpu", "cuda", "cuda:1", "mps", "auto"):
        args = parser.parse_args(["agent", "train", "random", "--device", device])
        assert args.device == device


def test_unknown_env_ids_fail_before_any_cell(capsys, tmp_path):
    argv = ["bench", "convergence", "--preset", "tiny", "--envs", "NeuralPaint-Nope-v0"]
    err = fails(capsys, [*argv, "--results", str(tmp_path), "--cache", str(tmp_path / "c")], "")
    assert "unknown environment id 'NeuralPaint-Nope-v0'" in err
    assert "NeuralPaint-MNIST-v0" in err  # the ids are listed
    assert not (tmp_path / "c").exists() and not (tmp_path / "convergence").exists()


def test_the_library_refuses_what_the_flags_refuse(tmp_path):
    from neuralpaint.benchmarks import convergence

    for bad in ({"seconds": -5}, {"workers": -1}, {"seeds": -1}, {"envs": ["Nope-v0"]}):
        with pytest.raises(ValueError, match="must be positive|unknown environment id"):
            convergence.run("tiny", tmp_path, cache=tmp_path, **bad)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("argv", "flag", "message"),
    [
        (["bench", "convergence", "--seeds", "-1"], "--seeds", "must be 1 or more, got -1"),
        (["bench", "convergence", "--seconds", "-5"], "--seconds", "greater than 0, got -5"),
        (["bench", "convergence", "--workers", "-1"], "--workers", "1 or more, got -1"),
        (["bench", "discrete", "--seeds", "0"], "--seeds", "must be 1 or more, got 0"),
        (["painter", "dataset", "--strokes", "-5"], "--strokes", "must be 1 or more, got -5"),
        (["painter", "dataset", "--workers", "-1"], "--workers", "must be 0 or more, got -1"),
        (["painter", "train", "--minutes", "0"], "--minutes", "greater than 0, got 0"),
        (["agent", "train", "random", "--threads", "-2"], "--threads", "0 or more, got -2"),
        (["bench", "sweep", "--agents", "ppo", "--space", "{bad"], "--space", "not valid JSON"),
        (["bench", "sweep", "--agents", "ppo", "--space", "[1]"], "--space", "a JSON object"),
        (["stylize", "--steps", "x"], "--steps", "must be an integer, got 'x'"),
    ],
)
def test_bad_values_are_refused_by_flag(capsys, argv, flag, message):
    refused(capsys, argv, flag, message)


@pytest.mark.parametrize(
    "argv",
    [
        ["agent", "train", "random", "--budget", "1steps"],
        ["agent", "paint", "--agent", "amortized-mnist", "--target", "x.png"],
        ["demo"],
        ["painter", "dataset"],
        ["painter", "train"],
        ["stylize"],
        ["bench", "throughput"],
    ],
)
def test_out_that_is_a_file_is_refused_by_name(capsys, tmp_path, argv):
    (tmp_path / "taken").write_text("x")
    flag = "--results" if argv[0] == "bench" else "--out"
    refused(capsys, [*argv, flag, str(tmp_path / "taken")], flag, "is a file, not a folder")


def test_a_negative_budget_is_a_budget_not_an_option(capsys, tmp_path):
    out = tmp_path / "a"
    argv = ["agent", "train", "random", "--out", str(out), "--budget"]
    fails(capsys, [*argv, "-5s"], "--budget must be positive, got '-5s'")
    fails(capsys, [*argv, "0steps"], "--budget must be positive")
    fails(capsys, [*argv, "5"], "--budget '5' not understood")
    assert not out.exists()  # the failed runs left no empty folder behind


def test_report_refuses_a_missing_results_folder(capsys, tmp_path):
    missing = tmp_path / "nonexistent"
    fails(capsys, ["bench", "report", "--results", str(missing)], f"--results {missing}")
    assert not missing.exists()


def test_a_failed_train_removes_only_the_folders_it_made(capsys, tmp_path):
    kept = tmp_path / "kept"
    kept.mkdir()
    fails(capsys, ["agent", "train", "nope", "--out", str(kept)], "unknown agent")
    assert kept.is_dir()  # it was there before the run
    fails(capsys, ["agent", "train", "nope", "--out", str(tmp_path / "new/deeper")], "unknown")
    assert not (tmp_path / "new").exists()
    fails(capsys, ["agent", "train", "nope"], "unknown agent")  # the default runs/agent-nope
    assert not (tmp_path / "runs").exists()


def test_unknown_precondition_field_is_a_user_error(capsys, tmp_path):
    argv = ["agent", "train", "random", "--budget", "1steps", "--out", str(tmp_path / "a")]
    fails(capsys, [*argv, "--precondition", "--precondition-arg", "nope=1"], "no field 'nope'")


# ------------------------------------------------------------------ bugs and user errors


def _command(error: Exception):
    def run(args: argparse.Namespace) -> int:
        raise error

    return run


def test_a_bug_shows_its_traceback_and_asks_for_a_report(capsys, monkeypatch):
    from neuralpaint import cli

    def broken(args: argparse.Namespace) -> int:
        np.zeros(3).reshape(2)  # a ValueError from inside numpy: our bug, not the user's
        return 0

    monkeypatch.setattr(cli, "cmd_demo", broken)
    assert main(["demo"]) == EXIT_BUG
    err = capsys.readouterr().err
    assert "Traceback" in err and "ValueError: cannot reshape" in err
    assert err.strip().endswith(BUG_REPORT)
    for error in (KeyError("agent"), OSError("disk"), RuntimeError("x")):
        monkeypatch.setattr(cli, "cmd_demo", _command(error))
        assert main(["demo"]) == EXIT_BUG
        assert capsys.readouterr().err.strip().endswith(BUG_REPORT)
    with pytest.raises(ValueError, match="cannot reshape"):
        monkeypatch.setattr(cli, "cmd_demo", broken)
        main(["demo", "--debug"])


def test_a_user_error_is_one_line(capsys, monkeypatch):
    from neuralpaint import cli

    monkeypatch.setattr(cli, "cmd_demo", _command(UserValueError("do this instead")))
    assert main(["demo"]) == 2
    assert capsys.readouterr().err == "error: do this instead\n"


def test_user_errors_converts_only_deliberate_checks():
    def check(value):
        if value < 0:
            raise ValueError(f"value must be positive, got {value}")
        return int("x")  # a built-in's ValueError: a bug

    with pytest.raises(ValueError) as raised, user_errors():
        check(-1)
    assert not isinstance(raised.value, UserError)
    # neuralpaint's own raise statements are converted, with their message
    from neuralpaint.agents.commands import parse_agent_args
    from neuralpaint.agents.registry import get_agent_class

    with pytest.raises(UserError, match="unknown agent 'nope'") as raised, user_errors():
        get_agent_class("nope")
    assert isinstance(raised.value, ValueError)  # library callers may still catch ValueError
    assert isinstance(raised.value.__cause__, ValueError)
    with pytest.raises(ValueError) as raised, user_errors():
        np.zeros(3).reshape(2)
    assert not isinstance(raised.value, UserError)
    with pytest.raises(UserValueError, match="key=value"):
        parse_agent_args(["novalue"])


def test_library_errors_stay_value_errors():
    from neuralpaint.agents.commands import parse_budget, resolve_agent_folder

    with pytest.raises(ValueError, match="--budget"):
        parse_budget("soon")
    with pytest.raises(FileNotFoundError, match="no saved agent"):
        resolve_agent_folder("no/such/folder")


# ---------------------------------------------------------------------------- parser


def test_deprecated_verbs_are_gone(capsys):
    for verb in ("train-agent", "parameterization-report"):
        with pytest.raises(SystemExit):
            main([verb])
        err = capsys.readouterr().err
        assert "invalid choice" in err
        assert "train-agent" not in err.split("choose from", 1)[1]
    # `paint` is no longer the old alias of `agent paint`: it paints a whole picture
    with pytest.raises(SystemExit):
        main(["paint", "--help"])
    assert "real MyPaint canvas" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["agent", "train"], ["(default 10m)", "(default NeuralPaint-MNIST-v0)"]),
        (["demo"], ["(default results/demo)"]),
        (["bench", "parameterization"], ["(default quick)"]),
        (["bench", "agents"], ["(default NeuralPaint-MNIST-v0)"]),
        (["bench", "sweep"], ["(default NeuralPaint-MNIST-v0)"]),
    ],
)
def test_help_shows_defaults(capsys, argv, shown):
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for text in shown:
        assert text in out, text


def test_every_painter_train_flag_reaches_the_config():
    from neuralpaint.cli import painter_train_config
    from neuralpaint.painters.training import PainterTrainConfig

    parser = build_parser()
    names = {f.name for f in fields(PainterTrainConfig)}
    train = parser._subparsers._group_actions[0].choices["painter"]
    train = train._subparsers._group_actions[0].choices["train"]
    dests = {a.dest for a in train._actions if a.dest != "help"}
    assert dests <= names, dests - names  # a flag without a field would be dropped
    argv = ["painter", "train", "--kind", "vae", "--minutes", "2", "--batch-size", "8"]
    argv += ["--seed", "3", "--threads", "1", "--arch", json.dumps({"width": 8}), "--resume"]
    config = painter_train_config(parser.parse_args(argv))
    assert (config.kind, config.minutes, config.batch_size, config.seed) == ("vae", 2, 8, 3)
    assert config.threads == 1 and config.arch == {"width": 8} and config.resume
    assert config.out == "runs/painter-vae" and config.lr == 1e-3
    assert config.lr_final == PainterTrainConfig().lr_final  # no flag: the default


def test_every_bench_suite_has_a_runner():
    from neuralpaint.benchmarks import ALL_SUITES, SUITES

    assert set(ALL_SUITES) <= set(SUITE_RUNNERS)
    assert set(SUITES) - set(SUITE_RUNNERS) == {"parameterization"}  # its own command
