"""The transfer benchmark (painter fidelity, noise ceiling, overfitting) on a tiny preset."""

import pandas as pd

from neuralpaint.benchmarks import transfer


def test_transfer_bench_tiny(tmp_path):
    table = transfer.run("tiny", tmp_path, painters=["regression", "vae", "regression-discrete"])
    raw = pd.read_csv(tmp_path / "painter_fidelity.csv", comment="#")
    assert set(raw["painter"]) >= {"regression", "vae", "regression-discrete"}
    ceiling = table[table["painter"].str.contains("ceiling")]
    assert len(ceiling) == 2 and (ceiling["r2_of_ceiling"] == 1.0).all()
    painters = table.set_index("painter")
    # the regression painter beats the VAE on every per-stroke measure
    assert painters.loc["regression", "r2"] > painters.loc["vae", "r2"]
    assert painters.loc["regression", "ink_iou"] > painters.loc["vae", "ink_iou"]
    assert painters.loc["vae", "texture_ratio"] < 1.0
    assert (painters.loc[["regression", "vae"], ["± r2", "± ink_iou"]] > 0).all().all()
    assert "± r2" in (tmp_path / "painter_fidelity.md").read_text()
    over = pd.read_csv(tmp_path / "overfitting.csv", comment="#")
    assert sorted(over["iterations"].unique()) == [0, 2, 4]
    first, last = over[over["iterations"] == 0], over[over["iterations"] == 4]
    assert last["neural_l2"].mean() < first["neural_l2"].mean()  # Adam lowers its own loss
    md = (tmp_path / "painter_fidelity.md").read_text()
    assert "## Overfitting to the painter" in md and "ceiling" in md
    assert (tmp_path / "painter_strokes.png").is_file() and (tmp_path / "overfitting.png").is_file()
    # each shipped agent's neural canvas vs MyPaint's painting of its strokes
    gaps = pd.read_csv(tmp_path / "agent_gaps.csv", comment="#")
    assert "amortized-mnist" in set(gaps["agent"])
    assert (gaps["gap (MSE neural vs MyPaint)"] > 0).all() and (gaps["± gap"] >= 0).all()
    assert "## Trained agents: neural canvas vs MyPaint" in md
