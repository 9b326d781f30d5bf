import json

import pandas as pd
import pytest
from PIL import Image

from neuralpaint.benchmarks import throughput
from neuralpaint.cli import main


def test_throughput_tiny_writes_tables_and_c_loop_does_the_same_work(tmp_path):
    table = throughput.run("tiny", out_dir=tmp_path)
    raw = pd.read_csv(tmp_path / "throughput.csv", comment="#")
    assert set(raw["renderer"]) >= {"python render_masks", "python MyPaintCanvas paint+image"}
    assert (raw["strokes_per_s"] > 0).all()
    if "C loop (limit)" in set(raw["renderer"]):  # a C compiler is present here
        c_rows = raw[raw["renderer"] == "C loop (limit)"]
        assert (c_rows["max_abs_diff_to_python"] == 0).all()
        assert "ratio to C loop (median of rounds)" in table.columns
    md = (tmp_path / "throughput.md").read_text()
    assert "commit" in md and "| renderer" in md and "## Environment steps" in md
    envs = pd.read_csv(tmp_path / "env_throughput.csv", comment="#")
    assert len(envs) == 4 and (envs["strokes_per_s"] > 0).all()
    assert envs["ratio_to_bare"].iloc[0] == 1.0
    assert "![throughput](throughput.png)" in md
    assert (tmp_path / "throughput.png").stat().st_size > 1000


def test_cli_demo_paints_digits_with_the_shipped_agent(tmp_path):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    image = Image.open(tmp_path / "mypaint_strokes.png")
    assert image.size[0] > 600 and image.mode == "RGB"
    assert Image.open(tmp_path / "mnist_side_by_side.png").size[0] > 600
    gif = Image.open(tmp_path / "mnist_3_strokes.gif")
    assert gif.n_frames == 8  # one frame per stroke
    scores = json.loads((tmp_path / "mnist_scores.json").read_text())
    # the shipped agent paints digits far better than a blank canvas (L2 about 0.12)
    assert scores["mypaint_l2"] < 0.06


def test_report_copies_results_into_the_readme_and_docs(tmp_path):
    from neuralpaint.benchmarks.report import refresh_includes, update_page

    results = tmp_path / "results" / "x"
    results.mkdir(parents=True)
    (results / "table.md").write_text(
        "# Title\n\n| a |\n|---|\n| 1 |\n\n## Part two\n\n![plot](plot.png)\n"
    )
    block = "<!-- include: results/x/table.md -->\nstale\n<!-- end include -->\n"
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{block}outro\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text(block)
    (tmp_path / "docs" / "plain.md").write_text("no includes\n")
    assert refresh_includes(tmp_path) == {
        "README.md": ["results/x/table.md"],
        "docs/page.md": ["results/x/table.md"],
    }
    text = readme.read_text()
    assert "stale" not in text and "| 1 |" in text and "# Title" not in text
    assert "![plot](results/x/plot.png)" in text and text.endswith("outro\n")
    assert "\n#### Part two\n" in text
    # image links are relative to the page that includes them
    assert "![plot](../results/x/plot.png)" in (tmp_path / "docs" / "page.md").read_text()
    readme.write_text("<!-- include: results/missing.md -->\n<!-- end include -->\n")
    with pytest.raises(FileNotFoundError, match="results/missing.md"):
        update_page(readme, tmp_path)


def test_demo_writes_the_same_bytes_on_every_run(tmp_path):
    import torch

    from neuralpaint import demo

    runs = []
    for threads, name in ((2, "a"), (1, "b")):
        torch.set_num_threads(threads)  # the demo must not depend on the caller's threads
        demo.paint_mnist(tmp_path / name, seed=0, digits=2)
        runs.append({p.name: p.read_bytes() for p in sorted((tmp_path / name).iterdir())})
    assert torch.get_num_threads() == 1  # the caller's setting is restored
    assert runs[0].keys() == {
        "mnist_0_strokes.gif",
        "mnist_1_strokes.gif",
        "mnist_side_by_side.png",
        "mnist_scores.json",
    }
    assert runs[0] == runs[1]


def test_libmypaint_messages_stay_off_the_terminal(capfd):
    """libmypaint printf()s "Time is running backwards!" to stdout in rare strokes; the
    renderer drops what C prints while it paints and keeps Python's own output."""
    from cffi import FFI

    from neuralpaint.painters.mypaint import MyPaintCanvas, _quiet_libmypaint

    ffi = FFI()
    ffi.cdef("int printf(const char *format, ...);")
    libc = ffi.dlopen(None)
    print("before", end=" ")
    with _quiet_libmypaint():
        libc.printf(b"Time is running backwards!\n")
    print("after", flush=True)
    libc.printf(b"C again\n")  # C's stdout works as before once the block ends
    MyPaintCanvas(16, seed=0).paint([0.1, 0.1, 0.5, 0.2, 0.9, 0.9, 0.8, 0.8, 0.5, 1, 0, 0])
    flush = FFI()
    flush.cdef("int fflush(void *stream);")
    flush.dlopen(None).fflush(flush.NULL)  # C's stdout is buffered when it is not a tty
    out = capfd.readouterr().out
    assert "backwards" not in out
    assert out == "before after\nC again\n"
