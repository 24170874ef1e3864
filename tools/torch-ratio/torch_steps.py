"""PyTorch's side of torch-ratio: times `scheduler.step()` for the cases the driver asks for.

Schedules torch lacks come from the libraries users port them from: timm's noise and tanh
(`step_update`, timm's per-update call) and Hugging Face transformers' inverse square root
and warmup-stable-decay (`LambdaLR`s). Those two packages are optional: their cases are
skipped (answered `nan`) without them. Families no library has are the `LambdaLR` a user
would write.

Reads lines `CASE N` on stdin; for each, steps a fresh copy of the case's scheduler N times
(after one `optimizer.step()`, as a training loop would) and prints the mean thread CPU
nanoseconds per `step()` on stdout. `LIST` prints the case names. One process serves the
whole run, so `import torch` is paid once.
"""

import math
import sys
import time
import warnings

import torch
from torch.optim import SGD
from torch.optim import lr_scheduler as lr

HORIZON = 1_000_000


def optimizer():
    return SGD([torch.zeros(1, requires_grad=True)], lr=1.0, momentum=0.9)


def sequential_warmup_cosine(opt):
    warm = lr.LinearLR(opt, start_factor=1e-3, end_factor=1.0, total_iters=1_000)
    decay = lr.CosineAnnealingLR(opt, T_max=HORIZON, eta_min=1e-3)
    return lr.SequentialLR(opt, [warm, decay], milestones=[1_000])


# The cadence bench case each scheduler is set up like (see src/main.rs).
CASES = {
    "linear": lambda o: lr.LinearLR(o, start_factor=1.0, end_factor=1e-9, total_iters=HORIZON),
    "polynomial": lambda o: lr.PolynomialLR(o, total_iters=HORIZON, power=2.0),
    "exponential": lambda o: lr.ExponentialLR(o, gamma=0.5 ** (10 / HORIZON)),
    "step": lambda o: lr.StepLR(o, step_size=100_000, gamma=0.5),
    "multi_step_8": lambda o: lr.MultiStepLR(
        o, milestones=[k * HORIZON // 5 for k in range(1, 9)], gamma=0.5
    ),
    "cosine": lambda o: lr.CosineAnnealingLR(o, T_max=HORIZON, eta_min=0.0),
    "expr": lambda o: lr.LambdaLR(o, lambda step: 0.1 * 0.5 ** (step // 1000)),
    "expr_decay": lambda o: lr.LambdaLR(o, lambda epoch: 0.95 ** (epoch / 1000)),
    "expr_warmup": lambda o: lr.LambdaLR(o, lambda step: min(1.0, (step + 1) / 1000)),
    "expr_linear_if": lambda o: lr.LambdaLR(
        o, lambda e: 1 - e / 1000000 if e < 1000000 else 0.0
    ),
    "cosine_restarts": lambda o: lr.CosineAnnealingWarmRestarts(o, T_0=1_000, T_mult=2, eta_min=1e-5),
    "cosine_restarts_equal": lambda o: lr.CosineAnnealingWarmRestarts(o, T_0=10_000, eta_min=1e-5),
    "cyclical": lambda o: lr.CyclicLR(
        o, base_lr=1e-4, max_lr=1e-2, step_size_up=2_000, mode="triangular2", cycle_momentum=False
    ),
    "one_cycle": lambda o: lr.OneCycleLR(o, max_lr=0.1, total_steps=HORIZON, three_phase=True),
    "swa_anneal": lambda o: torch.optim.swa_utils.SWALR(
        o, swa_lr=0.05, anneal_epochs=HORIZON, anneal_strategy="cos"
    ),
    "depth4_composite": sequential_warmup_cosine,
}


# timm's per-update noise as cadence's case has it: normal, std 1, clipped at 0.67.
TIMM_NOISE = dict(
    t_in_epochs=False, noise_range_t=(0, HORIZON), noise_pct=0.67, noise_std=1.0, noise_seed=42
)


def timm_noisy_cosine(opt):
    from timm.scheduler import CosineLRScheduler

    return CosineLRScheduler(opt, t_initial=HORIZON, lr_min=0.0, **TIMM_NOISE)


def hf_inverse_sqrt(opt):
    from transformers import get_inverse_sqrt_schedule

    return get_inverse_sqrt_schedule(opt, num_warmup_steps=0, timescale=4_000)


def hf_wsd(opt):
    from transformers import get_wsd_schedule

    return get_wsd_schedule(
        opt,
        num_warmup_steps=10_000,
        num_decay_steps=200_000,
        num_training_steps=HORIZON,
        decay_type="1-sqrt",
    )


def timm_noisy_constant(opt):
    from timm.scheduler import StepLRScheduler

    return StepLRScheduler(opt, decay_t=10**12, decay_rate=1.0, **TIMM_NOISE)


def timm_tanh(opt):
    from timm.scheduler import TanhLRScheduler

    return TanhLRScheduler(opt, t_initial=HORIZON, lb=-7.0, ub=3.0, t_in_epochs=False)


def knots_cosine(step):
    """optax's piecewise_interpolate over 16 knots with cosine segments, as a LambdaLR."""
    times = [i * 100_000 for i in range(16)]
    if step >= times[-1]:
        return 1.0 / 16
    i = step // 100_000
    f = (step - times[i]) / 100_000
    a, b = 1.0 / (i + 1), 1.0 / (i + 2)
    return a + (b - a) * 0.5 * (1.0 - math.cos(math.pi * f))


def k_decay_cosine(step):
    """Cosine with k-decay (Zhang and Li 2021), k = 2, continued past its end."""
    return 0.5 * (1.0 + math.cos(math.pi * (step**2 / HORIZON**2)))


# Families PyTorch has no class for, as the LambdaLR a user would write.
CASES.update(
    {
        "constant": lambda o: lr.ConstantLR(o, factor=1.0, total_iters=0),
        "inverse_time": lambda o: lr.LambdaLR(o, lambda s: 1.0 / (1.0 + 0.5 * s / 1_000)),
        "k_decay_cosine": lambda o: lr.LambdaLR(o, k_decay_cosine),
        "knots_cosine_16": lambda o: lr.LambdaLR(o, knots_cosine),
        "noise(constant)": timm_noisy_constant,
        "tanh": timm_tanh,
    }
)

CASES.update(
    {
        "noise(cosine)": timm_noisy_cosine,
        "inverse_sqrt": hf_inverse_sqrt,
        "warmup_stable_decay": hf_wsd,
    }
)


def time_steps(case, n):
    opt = optimizer()
    try:
        scheduler = CASES[case](opt)
    except ImportError:
        return float("nan")
    opt.step()
    start = time.thread_time_ns()
    if hasattr(scheduler, "step_update"):
        # timm: the scheduler is told the update count.
        update = scheduler.step_update
        for i in range(n):
            update(i)
    else:
        step = scheduler.step
        for _ in range(n):
            step()
    return (time.thread_time_ns() - start) / n


def main():
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    for line in sys.stdin:
        words = line.split()
        if words == ["LIST"]:
            print(" ".join(CASES), flush=True)
        elif len(words) == 2:
            print(f"{time_steps(words[0], int(words[1])):.1f}", flush=True)


if __name__ == "__main__":
    main()
