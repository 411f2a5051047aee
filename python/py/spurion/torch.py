"""A PyTorch model as spurion's `predict`: `spurion.torch.predictor(model)` puts the model in
eval mode and runs each probe batch under `torch.no_grad()` on `device`, then turns its
outputs into probabilities (softmax over classes; sigmoid for one output).

    import spurion, spurion.torch
    predict = spurion.torch.predictor(model, device="cuda", transform=normalize)
    result = spurion.audit(predict, probes="solid", input_size=(224, 224), holdout=images)

`transform`, if given, maps a float32 tensor (N, 3, H, W) in [0, 1] on `device` to the
model's input (a torchvision Normalize, a resize, a channel swap).
"""

import numpy as np
import torch


def predictor(model, device=None, transform=None, output="logits", batch_size=256):
    """A `predict` callable for spurion.audit from an nn.Module.

    output: "logits" (softmax, or sigmoid for one output), "sigmoid" (per-class sigmoid of the
    outputs), or "probabilities" (the model already returns them).
    """
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    model = model.to(device).eval()

    def predict(x):
        out = []
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                batch = torch.from_numpy(np.array(x[start : start + batch_size], dtype=np.float32)).to(device)
                if transform is not None:
                    batch = transform(batch)
                y = model(batch).float()
                if output == "logits":
                    y = torch.sigmoid(y) if y.shape[1] == 1 else torch.softmax(y, dim=1)
                elif output == "sigmoid":
                    y = torch.sigmoid(y)
                elif output != "probabilities":
                    raise ValueError(f"output: expected logits, sigmoid or probabilities, got {output!r}")
                out.append(y.cpu().numpy())
        return np.concatenate(out)

    return predict
