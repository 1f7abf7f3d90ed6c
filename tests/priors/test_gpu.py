"""On CUDA the priors run in half precision and still give the float32 SDS gradient."""

import pytest
import torch

from t2v.priors import DiffusionImagePrior, LatentVideoPrior
from t2v.text import PromptEncoder

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("kind", ["image", "video"])
def test_half_precision_gradient_matches_float32(tiny_folders, kind):
    def load(device):
        if kind == "image":
            return DiffusionImagePrior.from_pretrained(
                str(tiny_folders["sd"]),
                family="sd",
                resolution=(16, 16),
                local_files_only=True,
                device=device,
            )
        return LatentVideoPrior.from_pretrained(
            str(tiny_folders["video"]), resolution=(16, 16), local_files_only=True, device=device
        )

    gpu, cpu = load(None), load("cpu")
    assert gpu.device.type == "cuda" and gpu.dtype == torch.float16
    assert gpu.unet.dtype == torch.float16 and gpu.vae.dtype == torch.float16
    cond = PromptEncoder.for_prior(cpu, device="cpu").encode("a red ball")
    frames = torch.rand(1, 4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    latent = (4, 4, 8, 8) if kind == "image" else (1, 4, 4, 8, 8)
    noise = torch.randn(latent, generator=torch.Generator().manual_seed(1))
    timesteps = torch.full((latent[0],), 400)
    grads = []
    for prior in (gpu, cpu):
        clip = frames.to(prior.device).requires_grad_(True)
        output = prior.sds(clip, cond, noise=noise, timesteps=timesteps)
        output.loss.backward()
        assert output.logs["sds/nonfinite"] == 0.0
        grads.append(clip.grad.float().cpu())
    error = (grads[0] - grads[1]).norm() / grads[1].norm()
    assert error < 0.05
