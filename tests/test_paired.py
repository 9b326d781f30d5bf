"""``bench paired``: twins compared digit by digit from ``bench brushes`` runs."""

import numpy as np
import pandas as pd
import pytest

from neuralpaint.benchmarks import paired
from neuralpaint.cli import main
from neuralpaint.errors import UserValueError


def write_run(folder, twin, l2, brush="classic/pen", indices=None):
    folder.mkdir(parents=True)
    indices = range(len(l2)) if indices is None else indices
    pd.DataFrame(
        {
            "brush": brush,
            "twin": twin,
            "test index": list(indices),
            "neural L2": 0.0,
            "MyPaint L2": l2,
        }
    ).to_csv(folder / "transfer_digits.csv", index=False)
    return folder


def test_paired_differences_their_interval_and_the_share_closer(tmp_path):
    base = write_run(tmp_path / "a", "regression-pen", [0.02, 0.03, 0.04, 0.06])
    # the same digits in another order: pairs follow the test index
    other = write_run(
        tmp_path / "b", "dabs:classic/pen", [0.055, 0.025, 0.03, 0.04], indices=[3, 2, 1, 0]
    )
    table, digits = paired.paired_table([base, other])
    row = table.iloc[0]
    diff = np.array([0.04, 0.03, 0.025, 0.055]) - np.array([0.02, 0.03, 0.04, 0.06])
    assert row["digits"] == 4 and row["twin"] == "dabs:classic/pen"
    assert row["difference"] == pytest.approx(diff.mean())
    half = 3.182446305284263 * diff.std(ddof=1) / 2  # t(0.975, 3) * s / sqrt(4)
    assert row["± difference"] == pytest.approx(half)
    assert row["share closer"] == pytest.approx(0.5)  # two of four digits closer
    assert row["base MyPaint L2"] == pytest.approx(np.mean([0.02, 0.03, 0.04, 0.06]))
    assert sorted(digits["difference"]) == pytest.approx(sorted(diff))


def test_bench_paired_writes_its_files_and_refuses_bad_runs(tmp_path, capsys):
    base = write_run(tmp_path / "a", "regression-pen", [0.02, 0.03, 0.04])
    other = write_run(tmp_path / "b", "dabs:classic/pen", [0.01, 0.02, 0.05])
    assert main(["bench", "paired", "--runs", f"{base},{other}", "--results", str(tmp_path)]) == 0
    out = tmp_path / "paired"
    md = (out / "paired.md").read_text()
    assert "neuralpaint bench paired --runs" in md and "dabs:classic/pen" in md
    assert (out / "paired.png").stat().st_size > 0
    assert len(pd.read_csv(out / "paired_digits.csv", comment="#")) == 3
    with pytest.raises(UserValueError, match="at least two"):
        paired.paired_table([base])
    with pytest.raises(UserValueError, match="no transfer_digits.csv"):
        paired.paired_table([base, tmp_path / "nowhere"])
    far = write_run(tmp_path / "c", "dabs:classic/pen", [0.01], brush="classic/calligraphy")
    with pytest.raises(UserValueError, match="shares no brush"):
        paired.paired_table([base, far])
    fewer = write_run(tmp_path / "d", "dabs:classic/pen", [0.01, 0.02])  # another preset
    with pytest.raises(UserValueError, match="different digits of classic/pen"):
        paired.paired_table([base, fewer])
    twice = write_run(tmp_path / "e", "dabs:classic/pen", [0.01, 0.02, 0.03], indices=[0, 1, 1])
    with pytest.raises(UserValueError, match="twice"):
        paired.paired_table([base, twice])
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "transfer_digits.csv").write_text("")
    with pytest.raises(UserValueError, match="not a readable CSV"):
        paired.paired_table([base, tmp_path / "empty"])
    assert main(["bench", "paired", "--runs", str(base), "--results", str(tmp_path)]) == 2
    assert "at least two" in capsys.readouterr().err


def test_a_brush_one_run_lacks_is_left_out_and_one_digit_has_no_interval(tmp_path):
    both = pd.concat(
        [
            pd.read_csv(write_run(tmp_path / "p", "regression-pen", [0.02]) / paired.DIGITS_FILE),
            pd.read_csv(
                write_run(
                    tmp_path / "q", "regression-calligraphy", [0.05], brush="classic/calligraphy"
                )
                / paired.DIGITS_FILE
            ),
        ]
    )
    (tmp_path / "base").mkdir()
    both.to_csv(tmp_path / "base" / paired.DIGITS_FILE, index=False)
    pen = write_run(tmp_path / "r", "dabs:classic/pen", [0.01])
    table, _ = paired.paired_table([tmp_path / "base", pen])
    assert list(table["brush"]) == ["classic/pen"]
    assert table.iloc[0]["difference"] == pytest.approx(-0.01)
    assert np.isnan(table.iloc[0]["± difference"])  # one digit: no interval
