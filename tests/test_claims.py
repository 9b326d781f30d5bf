"""The claims table: a row per claim, each judged on the longest run and on that run's
best gradient agent, with its details on the claims page the rows link to."""

import re
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from neuralpaint.benchmarks import claims, convergence, provenance, report

ROOT = Path(__file__).resolve().parents[1]


def curve(agent, seed, seconds, l2, budget=40.0):
    return [
        {
            "env": "NeuralPaint-MNIST-v0",
            "agent": agent,
            "seed": seed,
            "policy": "default",
            "evaluation": i,
            "seconds": s,
            "budget_seconds": budget,
            "strokes_rendered": 100 * s,
            "blank_l2": 0.2,
            "mypaint_l2": v,
            "neural_l2": v,
            "transfer_gap": 0.0,
        }
        for i, (s, v) in enumerate(zip(seconds, l2, strict=True))
    ]


def write_run(folder: Path, rows: list[dict], preset: str, **changes) -> Path:
    """A convergence.csv as :func:`convergence.run` writes it (threshold 0.85 x 0.2)."""
    config = convergence.ConvergenceConfig(**asdict(convergence.PRESETS[preset]) | changes)
    command = f"neuralpaint bench convergence --preset {preset} --device cpu"
    header = provenance.csv_header(command, config={"preset": preset} | asdict(config))
    path = folder / "convergence" / "convergence.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + pd.DataFrame(rows).to_csv(index=False))
    return path


def quick_rows(ppo_l2=(0.2, 0.19, 0.18)) -> list[dict]:
    rows = []
    for seed in range(3):  # regression never gets to 0.17; vae does at 10 s
        rows += curve("amortized@regression", seed, [0, 10, 20], [0.2, 0.19, 0.18])
        rows += curve("amortized@vae", seed, [0, 10, 20], [0.2, 0.1, 0.05])
        rows += curve("ppo", seed, [0, 20, 40], list(ppo_l2))
    return rows


def test_each_run_is_judged_on_its_best_gradient_agent(tmp_path):
    write_run(tmp_path, quick_rows(), "quick")
    row = claims.convergence_row(tmp_path)
    assert row.verdict == claims.HOLDS
    assert "amortized@vae 10 (3/3) s vs ppo > 40 (0/3) s (≥ 4×)" in row.numbers
    assert "Judged on amortized@vae" in row.details
    assert "amortized@regression gets there" not in row.details


def test_the_report_writes_convergence_md_again_from_its_csv(tmp_path):
    path = write_run(tmp_path, quick_rows(), "quick")
    claims.write_claims(tmp_path)
    md = path.with_suffix(".md").read_text()
    assert md.startswith("# Convergence on held-out targets")
    assert "- **command**: `neuralpaint bench convergence --preset quick --device cpu`" in md
    assert "**config**: `{" not in md, "the settings are a line of their own, not JSON"
    assert "Judged on amortized@vae" in md and "![convergence](convergence_NeuralPaint" in md


def test_the_verdict_does_not_hold_when_rl_gets_there_first(tmp_path):
    write_run(tmp_path, quick_rows(ppo_l2=(0.2, 0.1, 0.1)), "quick")  # ppo there at 20 s...
    assert claims.convergence_row(tmp_path).verdict == claims.HOLDS  # ...vae at 10 s
    rows = [r for r in quick_rows(ppo_l2=(0.2, 0.1, 0.1)) if r["agent"] != "amortized@vae"]
    write_run(tmp_path, rows, "quick")  # without vae: regression never gets there
    row = claims.convergence_row(tmp_path)
    assert row.verdict == claims.FAILS and "amortized@regression > 40 (0/3)" in row.numbers


def test_the_verdict_is_inconclusive_when_neither_side_gets_there(tmp_path):
    rows = [r for r in quick_rows() if r["agent"] != "amortized@vae"]  # 0.18 and 0.18
    write_run(tmp_path, rows, "quick")
    row = claims.convergence_row(tmp_path)
    assert row.verdict == claims.INCONCLUSIVE
    assert "neither amortized@regression (> 40 (0/3) s) nor ppo (> 40 (0/3) s)" in row.numbers
    assert "final L2 0.1800 vs 0.1800" in row.numbers


def test_an_environment_neither_side_decides_is_named_beside_the_verdict(tmp_path):
    photos = [r | {"env": "NeuralPaint-Photos-v0"} for r in quick_rows()]  # vae decides
    undecided = [r for r in quick_rows() if r["agent"] != "amortized@vae"]  # 0.18 vs 0.18
    write_run(tmp_path, undecided + photos, "quick")
    row = claims.convergence_row(tmp_path)
    assert row.verdict == f"{claims.HOLDS} on Photos; {claims.INCONCLUSIVE} on MNIST"
    claims.write_claims(tmp_path)
    assert f"*{claims.INCONCLUSIVE}*: measured" in (tmp_path / "claims_table.md").read_text()


def test_the_long_run_leads_and_the_quick_one_follows_in_the_details(tmp_path):
    write_run(tmp_path, quick_rows(), "quick")
    rows = []
    for seed in range(3):
        rows += curve("amortized@regression", seed, [0, 50, 180], [0.2, 0.1, 0.05], 180)
        rows += curve("ppo", seed, [0, 300, 600], [0.2, 0.15, 0.1], 600)
    write_run(tmp_path / claims.LONGER_RUNS, rows, "long")
    row = claims.convergence_row(tmp_path)
    assert row.command == "neuralpaint bench convergence --preset long"
    assert "amortized@regression 50 (3/3) s vs ppo 300 (3/3) s (6×)" in row.numbers
    assert row.details.index("(preset `long`)") < row.details.index("(preset `quick`)")


def test_every_row_says_not_measured_without_its_results(tmp_path):
    rows = [make(tmp_path) for make in claims.ROWS]
    assert {row.verdict for row in rows} == {claims.NOT_MEASURED}
    assert all("neuralpaint bench" in row.numbers for row in rows), "says what to run"
    claims.write_claims(tmp_path)
    table = (tmp_path / "claims_table.md").read_text()
    assert table.count("| **not measured** |") == len(claims.ROWS)


def test_a_row_is_one_function_added_to_the_list(tmp_path, monkeypatch):
    def search_row(results):
        return claims.Row("6", "Search on the real program", claims.FAILS, "Numbers.", "cmd")

    monkeypatch.setattr(claims, "ROWS", [*claims.ROWS, search_row])
    md = claims.write_claims(tmp_path).read_text()
    assert "| [6. Search on the real program](" in md and "## 6. Search on the real program" in md


def headings_anchors(page: str) -> set[str]:
    """The anchors GitHub gives a page's headings (a repeated heading gets ``-1``...)."""
    seen, out = {}, set()
    for heading in re.findall(r"^#+ (.+)$", page, flags=re.MULTILINE):
        slug = claims.anchor(heading)
        out.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return out


def test_the_readme_table_links_to_headings_of_the_details_page(tmp_path):
    write_run(tmp_path / "results", quick_rows(), "quick")
    claims.write_claims(tmp_path / "results")
    (tmp_path / "docs").mkdir()
    include = "<!-- include: {} -->\n<!-- end include -->\n"
    (tmp_path / "README.md").write_text("# R\n\n" + include.format("results/claims_table.md"))
    (tmp_path / "docs" / "benchmarks.md").write_text(
        "# B\n\n## The claims\n\n" + include.format("results/claims.md")
    )
    report.refresh_includes(tmp_path)
    readme = (tmp_path / "README.md").read_text()
    details = (tmp_path / "docs" / "benchmarks.md").read_text()
    links = re.findall(r"\]\(docs/benchmarks\.md#([^)]+)\)", readme)
    assert len(links) == len(claims.ROWS)
    assert set(links) <= headings_anchors(details)
    # links from the page to itself stay valid once included (../docs/ from docs/)
    assert "](../docs/benchmarks.md#1-" in details


def test_included_links_and_images_are_made_relative_to_the_page(tmp_path):
    source = tmp_path / "results" / "suite" / "page.md"
    source.parent.mkdir(parents=True)
    source.write_text(
        "# T\n\n[doc](../../docs/x.md#a) ![fig](fig.png) [web](https://e.org) [here](#b)\n"
    )
    body = report.body_of(source, "../results/suite")
    assert "[doc](../docs/x.md#a)" in body and "![fig](../results/suite/fig.png)" in body
    assert "[web](https://e.org)" in body and "[here](#b)" in body


def test_short_command_drops_the_defaults_only():
    command = "neuralpaint bench convergence --preset long --agents a,b --seeds 3 --device cpu"
    assert claims.short_command(command, {"--agents": "a,b", "--seeds": "5"}) == (
        "neuralpaint bench convergence --preset long --seeds 3"
    )
    assert "--device cuda" in claims.short_command("x --device cuda")


def test_the_committed_results_give_a_verdict_on_every_claim():
    rows = [make(ROOT / "results") for make in claims.ROWS]
    assert len({row.heading for row in rows}) == len(rows)
    for row in rows:
        assert row.verdict != claims.NOT_MEASURED, row.heading
        for sentence in re.split(r"(?<=[.!?])\s+", row.numbers):
            assert len(sentence.split()) <= 40, sentence


def write_frontier(folder: Path, winners: dict[str, str]) -> None:
    """A frontier.csv where ``winners[env]`` has the lowest L2 at every budget."""
    rows = []
    for env, winner in winners.items():
        for agent in ("hybrid", "cem"):
            for budget in claims.FRONTIER_BUDGETS:
                l2 = 0.01 if agent == winner else 0.02
                rows.append(
                    {"env": env, "agent": agent, "budget": budget, "seed": 0}
                    | {"seconds_per_image": 0.9 * budget, "mypaint_l2": l2, "psnr": 20.0}
                    | {"ssim": 0.5, "mypaint_renders": 10.0, "painter_evals": 1.0}
                    | {"renders_per_second": 10.0}
                )
    path = folder / "frontier" / "frontier.csv"
    path.parent.mkdir(parents=True)
    header = provenance.csv_header("neuralpaint bench frontier --preset full")
    path.write_text(header + pd.DataFrame(rows).to_csv(index=False))


def test_frontier_row_holds_only_where_a_painter_method_wins_every_budget(tmp_path):
    write_frontier(tmp_path, {"NeuralPaint-MNIST-v0": "hybrid", "NeuralPaint-Photos-v0": "cem"})
    row = claims.frontier_row(tmp_path)
    assert row.verdict == "holds on MNIST only"
    assert "Photos: 1 s cem" in row.numbers and "MNIST: 1 s hybrid" in row.numbers
    assert "0.50×" in row.details  # hybrid's L2 over the best search's, MNIST


def test_frontier_row_is_not_measured_without_its_results(tmp_path):
    assert claims.frontier_row(tmp_path).verdict == claims.NOT_MEASURED
