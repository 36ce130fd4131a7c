"""Classification on the frozen pretrained backbone: trained on generated shapes, judged on
other generated shapes."""

from __future__ import annotations

import random

import pytest
import torch
from shapes import SHAPES, draw, one_shape_each

from manifestdb.models.backbone import EfficientNetLite0
from manifestdb.models.classify import Classifier, embed, load_backbone, train_classifier


@pytest.fixture(scope="module")
def backbone() -> EfficientNetLite0:
    return load_backbone()


def f1_per_label(
    truth: list[set[str]], found: list[set[str]], labels: list[str]
) -> dict[str, float]:
    scores = {}
    for label in labels:
        tp = sum(label in t and label in f for t, f in zip(truth, found, strict=True))
        fp = sum(label not in t and label in f for t, f in zip(truth, found, strict=True))
        fn = sum(label in t and label not in f for t, f in zip(truth, found, strict=True))
        scores[label] = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return scores


def test_one_label_an_image_is_learned_from_twenty_examples_each(backbone: EfficientNetLite0):
    train, test = one_shape_each(1, 20), one_shape_each(2, 10)
    classifier = train_classifier(
        embed(backbone, [d.image for d in train]), [[d.shapes[0][0]] for d in train]
    )
    assert classifier.labels == sorted(SHAPES) and not classifier.multi_label
    predictions = classifier.predict(embed(backbone, [d.image for d in test]))
    found = [{p[0].label} for p in predictions]
    truth = [{d.shapes[0][0]} for d in test]
    scores = f1_per_label(truth, found, classifier.labels)
    assert min(scores.values()) >= 0.9, scores
    # A softmax: every image's confidences sum to 100 %, the best first.
    for ranked in predictions:
        assert sum(p.confidence for p in ranked) == pytest.approx(100.0, abs=1e-3)
        assert ranked == sorted(ranked, key=lambda p: -p.confidence)


def test_several_labels_an_image_make_a_multi_label_classifier(backbone: EfficientNetLite0):
    def images(seed: int, count: int) -> list[tuple[object, set[str]]]:
        rng = random.Random(seed)
        made = []
        for _ in range(count):
            present = rng.sample(["circle", "square"], rng.choice([1, 2]))
            made.append((draw(rng, present, size=128).image, set(present)))
        return made

    train, test = images(3, 60), images(4, 30)
    classifier = train_classifier(
        embed(backbone, [image for image, _ in train]),
        [sorted(s) for _, s in train],
    )
    assert classifier.multi_label and classifier.labels == ["circle", "square"]
    predictions = classifier.predict(embed(backbone, [image for image, _ in test]))
    found = [{p.label for p in ranked if p.confidence >= 50} for ranked in predictions]
    scores = f1_per_label([s for _, s in test], found, classifier.labels)
    assert min(scores.values()) >= 0.9, scores


def test_a_classifier_saved_and_loaded_scores_the_same(backbone: EfficientNetLite0, tmp_path):
    train = one_shape_each(5, 4)
    features = embed(backbone, [d.image for d in train])
    classifier = train_classifier(features, [[d.shapes[0][0]] for d in train], epochs=20)
    torch.save(classifier.state(), tmp_path / "model.pt")
    loaded = Classifier.from_state(torch.load(tmp_path / "model.pt", weights_only=True))
    assert loaded.labels == classifier.labels and loaded.multi_label == classifier.multi_label
    assert torch.equal(loaded.scores(features), classifier.scores(features))


def test_one_label_in_all_is_not_a_classification(backbone: EfficientNetLite0):
    with pytest.raises(ValueError, match="at least two labels, found \\['circle'\\]"):
        train_classifier(torch.zeros(3, 1280), [["circle"]] * 3)
    with pytest.raises(ValueError, match="3 images but 2 label sets"):
        train_classifier(torch.zeros(3, 1280), [["circle"], ["square"]])
