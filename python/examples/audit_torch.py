# pip install spurion torch   (spurion: the wheel built from python/, see the README)
import torch, numpy as np, spurion, spurion.torch

class Shortcut(torch.nn.Module):  # a torchvision-style classifier whose "cat" class is any reddish image
    def __init__(self):
        super().__init__()
        self.pool, self.fc = torch.nn.AdaptiveAvgPool2d(1), torch.nn.Linear(3, 2)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[-8.0, 4.0, 4.0], [8.0, -4.0, -4.0]])); self.fc.bias.zero_()
    def forward(self, x):
        return self.fc(self.pool(x).flatten(1))

real = np.repeat(np.random.default_rng(0).uniform(0.2, 0.6, (64, 1, 32, 32)), 3, axis=1).astype(np.float32)
result = spurion.audit(spurion.torch.predictor(Shortcut(), device="cpu"), probes="solid", probes_count=4000,
                       input_size=(32, 32), holdout=real, class_names=["dog", "cat"], out="audit-example", force=True)
print(result)
for f in result.findings:
    print(f"{f['class_name']}: {f['status']}: {f['reason']}")
