"""Whole pictures on a real MyPaint canvas: the planner, its exports and ``neuralpaint paint``."""

from __future__ import annotations

import json
import zipfile

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

import neuralpaint  # noqa: F401 - registers the ids
from neuralpaint.cli import main
from neuralpaint.pictures import exports
from neuralpaint.pictures import planner as P


def gradient_picture(width: int = 120, height: int = 80) -> np.ndarray:
    """A smooth colour picture with one sharp edge, any size."""
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    img = np.stack([x, y, 0.5 + 0 * x], axis=-1)
    img[: height // 2, : width // 3] = [0.9, 0.2, 0.1]
    return img.astype(np.float32)


@pytest.fixture(scope="module")
def painting():
    config = P.PaintingConfig(size=96, strokes=24, method="greedy", renders=12, seed=5)
    return P.PicturePainter(config).paint(gradient_picture())


def test_levels_tile_the_canvas_coarse_to_fine_and_share_every_stroke():
    cells = P.levels(256, 160, min_cell=32)
    assert [c[0].side for c in cells] == [160, 80, 40]
    for level in cells:  # every pixel is covered, no cell leaves the canvas
        covered = np.zeros((160, 256), bool)
        for c in level:
            assert c.x + c.side <= 256 and c.y + c.side <= 160
            covered[c.y : c.y + c.side, c.x : c.x + c.side] = True
        assert covered.all()
    shares = P.strokes_per_level(cells, 500)
    assert sum(shares) == 500 and shares == sorted(shares)  # finer levels get more
    rounds = P.PicturePainter(P.PaintingConfig(size=256, strokes=500)).visits(256, 160)
    assert sum(n for _, _, n in rounds) == 500


def test_painting_keeps_the_aspect_ratio_and_beats_a_blank_canvas(painting):
    image = painting.image
    assert image.shape == (64, 96, 3) == painting.target.shape
    assert len(painting.strokes) == 24 and not painting.interrupted
    blank = P.psnr(np.ones_like(painting.target), painting.target)
    assert P.psnr(image, painting.target) > blank + 1.0


def test_a_replay_of_the_strokes_is_bit_identical(painting, tmp_path):
    exports.write_outputs(painting, tmp_path)
    doc, strokes = exports.read_strokes(tmp_path / "strokes.json")
    assert (doc["width"], doc["height"], len(strokes)) == (96, 64, 24)
    canvas = P.replay(strokes, doc["width"], doc["height"], doc["brush"], doc["seed"])
    assert np.array_equal(canvas.image(), painting.image)


def test_exports_are_files_painting_programs_open(painting, tmp_path):
    written = exports.write_outputs(painting, tmp_path)
    assert set(written) == {"painting", "side_by_side", "strokes", "ora", "svg", "process"}
    with zipfile.ZipFile(tmp_path / "painting.ora") as z:
        first = z.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert z.read("mimetype") == b"image/openraster"
        assert 'w="96" h="64"' in z.read("stack.xml").decode()
        layer = np.asarray(Image.open(z.open("data/painting.png")))
    assert layer.shape == (64, 96, 3)
    svg = (tmp_path / "strokes.svg").read_text()
    assert svg.count("<path ") == 24 and 'viewBox="0 0 96 64"' in svg
    assert Image.open(tmp_path / "side_by_side.png").size == (192, 64)
    assert written["process"].stat().st_size > 0


def test_ctrl_c_keeps_the_strokes_painted_so_far(tmp_path):
    config = P.PaintingConfig(size=64, strokes=40, method="greedy", renders=4)

    def interrupt(painted: int) -> None:
        if painted >= 5:
            raise KeyboardInterrupt

    result = P.PicturePainter(config).paint(gradient_picture(64, 64), progress=interrupt)
    assert result.interrupted and 5 <= len(result.strokes) < 40
    exports.write_outputs(result, tmp_path)
    assert len(json.loads((tmp_path / "strokes.json").read_text())["strokes"]) == len(
        result.strokes
    )


def test_the_mosaic_reference_has_about_as_many_cells_as_strokes():
    img = gradient_picture(120, 80)
    coarse, fine = P.mosaic(img, 6), P.mosaic(img, 600)
    assert coarse.shape == img.shape
    assert P.psnr(fine, img) > P.psnr(coarse, img)


@pytest.mark.parametrize(
    ("field", "value"),
    [("size", 16), ("strokes", 0), ("method", "magic"), ("renders", 0), ("seconds", -1.0)],
)
def test_bad_painting_settings_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        P.PaintingConfig(**{field: value})


def test_an_unknown_brush_is_refused_by_name():
    with pytest.raises(FileNotFoundError, match="no/such_brush"):
        P.PaintingConfig(brush="no/such_brush")


def test_paint_command_writes_outputs_and_replays(tmp_path, capsys):
    src = tmp_path / "picture.png"
    Image.fromarray((gradient_picture() * 255).astype(np.uint8)).save(src)
    out = tmp_path / "out"
    args = ["paint", str(src), "--size", "64", "--strokes", "10", "--method", "greedy"]
    assert main([*args, "--renders", "4", "--out", str(out)]) == 0
    assert "same-count mosaic" in capsys.readouterr().out
    again = tmp_path / "again"
    assert main(["paint", "--replay", str(out / "strokes.json"), "--out", str(again)]) == 0
    assert (again / "painting.png").read_bytes() == (out / "painting.png").read_bytes()


@pytest.mark.parametrize(
    ("make_args", "words"),
    [
        (lambda d: ["paint", str(d / "missing.png")], "does not exist"),
        (lambda d: ["paint", str(d / "not_an_image.png")], "not an image"),
        (lambda d: ["paint", str(d / "ok.png"), "--size", "9000"], "size"),
        (lambda d: ["paint", str(d / "ok.png"), "--brush", "no/such"], "no/such"),
        (lambda d: ["paint", "--replay", str(d / "not_an_image.png")], "strokes.json"),
    ],
)
def test_paint_command_bad_input_is_one_error_line_and_exit_2(tmp_path, capsys, make_args, words):
    (tmp_path / "not_an_image.png").write_text("hello")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "ok.png")
    assert main([*make_args(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and words in err


def test_environments_paint_at_picture_scale():
    env = gym.make("NeuralPaint-Photos-v0", size=128, strokes=200)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (128, 128, 6)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert np.isfinite(reward) and not terminated
    assert env.unwrapped.strokes == 200
    env.close()


def test_bench_pictures_tiny_writes_its_table_and_gallery(tmp_path):
    from neuralpaint.benchmarks import pictures

    folder = tmp_path / "mine"
    folder.mkdir()
    Image.fromarray((gradient_picture(80, 64) * 255).astype(np.uint8)).save(folder / "grad.png")
    table = pictures.run("tiny", tmp_path / "out", folder=str(folder), cache=tmp_path / "cache")
    assert set(table["picture"]) == {"coffee", "rocket", "grad"}
    assert set(table["agent"]) == {"greedy", "hybrid"}
    assert (table["psnr"] > 5).all() and (table["mosaic_psnr"] > 5).all()
    summary = pictures.summary(table)
    assert np.allclose(summary["over_mosaic_db"], summary["psnr"] - summary["mosaic_psnr"])
    assert Image.open(tmp_path / "out" / "gallery.png").size[0] > 4 * 64
    page = tmp_path / "out" / "pictures.md"
    first = page.read_text()
    assert "over_mosaic_db" in first and "## Targets" in first
    page.write_text(first.replace("## Targets", "## stale"))
    pictures.rewrite_markdown(tmp_path / "out" / "pictures.csv")  # as bench report does
    assert page.read_text() == first  # header and machine time kept, analysis redone


def test_the_targets_table_judges_the_default_planner_against_mosaic_and_greedy():
    import pandas as pd

    from neuralpaint.benchmarks import pictures

    def row(picture, agent, psnr, seconds=50.0):
        return {
            "picture": picture,
            "size": 128,
            "strokes": 200,
            "agent": agent,
            "seconds": seconds,
            "psnr": psnr,
            "mosaic_psnr": 20.0,
            "over_mosaic_db": psnr - 20,
        }

    good = pd.DataFrame([row("a", "hybrid", 23.0), row("a", "greedy", 21.0)])
    judged = pictures.targets(good)
    assert list(judged["holds"]) == [True, True]
    assert "+3.00 dB in 50 s" in judged["measured"].iloc[0]
    slow = pd.DataFrame([row("a", "hybrid", 23.0, seconds=90.0), row("a", "greedy", 23.5)])
    judged = pictures.targets(slow)
    assert list(judged["holds"]) == [False, False]
    assert "not ahead at a 128 px 200" in judged["measured"].iloc[1]
