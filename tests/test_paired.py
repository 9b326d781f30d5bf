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
    base = write_run(tmp_path / "a", "regression-pen", [0.02, 0.03, 0.04, 0.05, 0.06])
    # the same digits in another order, one of them missing: pairs follow the test index
    other = write_run(
        tmp_path / "b", "dabs:classic/pen", [0.055, 0.025, 0.03, 0.04], indices=[4, 2, 1, 0]
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
    with pytest.raises(UserValueError, match="shares no digit"):
        paired.paired_table([base, far])
    assert main(["bench", "paired", "--runs", str(base), "--results", str(tmp_path)]) == 2
    assert "at least two" in capsys.readouterr().err
