"""spurion.torch.predictor on a PyTorch model with a colour shortcut (skipped without torch)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import spurion  # noqa: E402
import spurion.torch  # noqa: E402

from test_audit import SIZE, grey_images  # noqa: E402


class GreenShortcut(torch.nn.Module):
    """Logits from the mean colour: class 1 when the image is clearly green."""

    def forward(self, x):
        m = x.mean(dim=(2, 3))
        score = 12.0 * (m[:, 1] - 0.45) - 12.0 * (torch.maximum(m[:, 0], m[:, 2]) - 0.25)
        return torch.stack([torch.zeros_like(score), score], dim=1)


def test_a_torch_model_with_a_colour_shortcut_is_found(tmp_path):
    predict = spurion.torch.predictor(GreenShortcut(), device="cpu")
    p = predict(spurion.probes("solid", 4, SIZE))
    assert p.shape == (4, 2) and np.allclose(p.sum(axis=1), 1.0, atol=1e-6)
    r = spurion.audit(predict, probes_count=2000, input_size=SIZE, holdout=grey_images(),
                      class_names=["other", "green"], out=tmp_path / "r", quiet=True)
    assert r.found() == ["green"], [f["reason"] for f in r.findings]
