"""The quality measure of the image-parameterization tools, as committed results.

Class paintings are judged by a **held-out** classifier (EfficientNet-Lite1, never used
in the optimisation, which uses Lite0): its probability for the target class on the
neural painting and on the MyPaint re-rendering of the same strokes. Random strokes
give the chance level. A painting that only fools Lite0 scores high under Lite0 and
near chance under Lite1.

Style transfer is judged by the content loss it minimised (untransformed) and by SSIM
against the photo, for the initial random strokes, the neural painting and the MyPaint
re-rendering.

``neuralpaint bench parameterization`` writes ``parameterization.md`` (with the
provenance header: command, commit, machine, library versions), two CSV tables and the
galleries ``classes.png`` and ``stylize.png`` into ``results/parameterization/``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
from PIL import Image

from neuralpaint.benchmarks.provenance import csv_header, markdown_header
from neuralpaint.io import write_text
from neuralpaint.parameterization import CLOSED_LOOP_CHUNKS, common, stylize, visualize

CLASSES = ("pineapple", "starfish", "violin", "strawberry", "volcano")
"""The paper's three example classes (figure 1) and two more, of different kinds."""
PHOTOS = (("astronaut", False), ("astronaut", True), ("chelsea", False))
"""(scikit-image sample, grayscale) pairs for style transfer."""


@dataclass(frozen=True)
class Preset:
    """How much optimisation each item gets."""

    visualize_steps: int
    stylize_steps: int
    stylize_px: int


PRESETS = {
    "tiny": Preset(visualize_steps=5, stylize_steps=5, stylize_px=64),
    "quick": Preset(visualize_steps=200, stylize_steps=150, stylize_px=192),
}


def stack(rows: list[Image.Image]) -> Image.Image:
    """Stack images vertically on white."""
    width = max(r.width for r in rows)
    out = Image.new("RGB", (width, sum(r.height for r in rows)), (255, 255, 255))
    y = 0
    for r in rows:
        out.paste(r, (0, y))
        y += r.height
    return out


def run(preset: str, out_dir: str | Path, painter: str, device: str) -> str:
    """Run every item, write the results files and return the Markdown tables."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    p = PRESETS[preset]
    out = Path(out_dir)
    command = f"neuralpaint bench parameterization --preset {preset} --painter {painter}"
    started = time.perf_counter()

    class_rows, class_panels = [], []
    for seed, target in enumerate(CLASSES):
        config = visualize.VisualizeConfig(
            target=target, painter=painter, steps=p.visualize_steps, seed=seed, device=device
        )
        res = visualize.run(replace(config, chunks=1))
        closed = visualize.run(config)
        optimised, judge = config.classifiers[0], res.held_out
        if judge is None:
            raise ValueError("the report needs the held-out classifier efficientnet-lite1")
        class_rows.append(
            {
                "class": res.class_name,
                "seed": seed,
                f"p {optimised} (optimised), neural": res.probabilities[optimised]["neural"],
                f"p {judge} (held out), random strokes": res.probabilities[judge]["initial"],
                f"p {judge} (held out), neural": res.probabilities[judge]["neural"],
                f"p {judge} (held out), MyPaint": res.probabilities[judge]["mypaint"],
                f"p {judge} (held out), closed loop": closed.probabilities[judge]["mypaint"],
                "seconds, open loop": round(res.seconds, 1),
                "seconds, closed loop": round(closed.seconds, 1),
            }
        )
        scale = common.display_scale(res.neural.shape[0], 192)
        images = [res.neural, res.mypaint, closed.mypaint]
        captions = [*visualize.captions(res), visualize.captions(closed)[1]]
        class_panels.append(common.panel(images, captions, scale))

    style_rows, style_panels = [], []
    for seed, (sample, gray) in enumerate(PHOTOS):
        config = stylize.StylizeConfig(
            sample=sample,
            painter=painter,
            width=p.stylize_px,
            height=p.stylize_px,
            grayscale=gray,
            steps=p.stylize_steps,
            seed=seed,
            device=device,
        )
        res = stylize.run(replace(config, chunks=1))
        closed = stylize.run(config)
        m, mc = res.metrics, closed.metrics
        style_rows.append(
            {
                "photo": sample,
                "colour": "gray" if gray else "colour",
                "seed": seed,
                "strokes": res.strokes,
                "content loss, random strokes": m["initial"]["content_loss"],
                "content loss, neural": m["neural"]["content_loss"],
                "content loss, MyPaint": m["mypaint"]["content_loss"],
                "content loss, closed loop": mc["mypaint"]["content_loss"],
                "SSIM, random strokes": m["initial"]["ssim"],
                "SSIM, neural": m["neural"]["ssim"],
                "SSIM, MyPaint": m["mypaint"]["ssim"],
                "SSIM, closed loop": mc["mypaint"]["ssim"],
                "MyPaint strokes thickened": res.clipped_strokes,
                "seconds, open loop": round(res.seconds, 1),
                "seconds, closed loop": round(closed.seconds, 1),
            }
        )
        scale = common.display_scale(max(res.neural.shape[:2]), 192)
        images = [res.photo, res.neural, res.mypaint, closed.mypaint]
        captions = [*stylize.captions(res), stylize.captions(closed)[2]]
        style_panels.append(common.panel(images, captions, scale))

    classes = pd.DataFrame(class_rows)
    styles = pd.DataFrame(style_rows)
    common.save_image(stack(class_panels), out / "classes.png")
    common.save_image(stack(style_panels), out / "stylize.png")
    write_text(out / "classes.csv", csv_header(command) + classes.to_csv(index=False))
    write_text(out / "stylize.csv", csv_header(command) + styles.to_csv(index=False))
    minutes = (time.perf_counter() - started) / 60
    held = {c.rsplit(", ", 1)[1]: classes[c].mean() for c in classes.columns if "held out" in c}
    share = {k: v / held["neural"] if held["neural"] > 0 else float("nan") for k, v in held.items()}
    chunks = CLOSED_LOOP_CHUNKS
    tables = (
        "## Class visualisation\n\n"
        f"Optimised against efficientnet-lite0 for {p.visualize_steps} steps, 30 strokes on one "
        "64 px cell, 2 random views per step; judged by the held-out efficientnet-lite1 "
        "(chance level 0.001). *Open loop*: every stroke is planned through the painter and "
        "MyPaint repaints the plan. *Closed loop*: MyPaint paints the strokes in "
        f"{chunks} chunks, and the rest are re-planned on its real canvas after each "
        "(`--chunks`). Mean held-out p: neural "
        f"{held['neural']:.3f}; MyPaint, open loop {held['MyPaint']:.3f} "
        f"({share['MyPaint']:.2f}x the neural p); MyPaint, closed loop "
        f"{held['closed loop']:.3f} ({share['closed loop']:.2f}x).\n\n"
        + classes.to_markdown(index=False, floatfmt=".3f")
        + "\n\n![class paintings](classes.png)\n\n"
        "## Intrinsic style transfer\n\n"
        f"{p.stylize_px} px canvas, 4 strokes per 64 px cell, overlap 32, "
        f"{p.stylize_steps} steps; content = mean L1 of efficientnet-lite0 `_blocks.4` "
        "features; SSIM against the colour photo. The closed loop paints one stroke layer "
        "per chunk.\n\n"
        + styles.to_markdown(index=False, floatfmt=".3f")
        + "\n\n![style transfer](stylize.png)\n"
    )
    header = markdown_header(command) + (
        f"- **time**: `{minutes:.1f} min in all`\n"
        "- **seeds**: `class k and photo k of the tables use seed k (0-based)`\n"
    )
    write_text(out / "parameterization.md", "# Image parameterization\n\n" + header + "\n" + tables)
    return tables
