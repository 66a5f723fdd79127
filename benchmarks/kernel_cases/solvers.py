"""Benchmark cases of the solver kernels: one step of each sampler at realistic sizes, native vs NumPy."""

from __future__ import annotations

import numpy as np

from tests.reference import solvers as ref
from voxlite.kernels import solvers as S

# VoxCPM LocDiT state per patch: (batch 2, feat_dim 64, patch 4); AudioLDM 2 latent: (2, 8, 256, 16).
VOXCPM_SHAPE = (2, 64, 4)
AUDIOLDM2_SHAPE = (2, 8, 256, 16)


def _fm_cases(label, shape, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    c = rng.standard_normal(shape).astype(np.float32)
    u = rng.standard_normal(shape).astype(np.float32)
    v = np.empty_like(x)
    state = x.copy()
    dt = -0.1

    def native():  # guided velocity then Euler, both in place (what integrate_flow does per step)
        S.cfg_velocity(c, u, 2.0, mode="zero_star", out=v)
        S.euler_step(state, v, dt, out=state)

    def reference():
        ref.euler_step(x, ref.cfg_velocity(c, u, 2.0, "zero_star"), dt)

    def native_std():
        S.cfg_velocity(c, u, 2.0, out=v)
        S.euler_step(state, v, dt, out=state)

    def reference_std():
        ref.euler_step(x, ref.cfg_velocity(c, u, 2.0, "standard"), dt)

    return [
        (f"fm euler + cfg zero_star {label} {shape}", native, reference),
        (f"fm euler + cfg standard {label} {shape}", native_std, reference_std),
    ]


def cases():
    rng = np.random.default_rng(0)
    out = _fm_cases("VoxCPM LocDiT", VOXCPM_SHAPE, rng) + _fm_cases("AudioLDM2 latent", AUDIOLDM2_SHAPE, rng)

    abar = S.alphas_cumprod(S.betas(1000, schedule="scaled_linear", beta_start=0.00085, beta_end=0.012))
    m, x, x0, prev_x0, noise = (rng.standard_normal(AUDIOLDM2_SHAPE).astype(np.float32) for _ in range(5))
    buf = np.empty_like(x)
    ts = S.diffusion_timesteps(1000, 25, "linspace", variant="dpmsolver")

    def ddim_native():
        S.ddim_step(m, x, 521, 481, abar, out=buf)

    def ddim_reference():
        ref.ddim_step(m, x, 521, 481, abar)

    def dpm_native():
        S.dpmpp_2m_step(x, x0, ts, 5, abar, prev_x0_pred=prev_x0, out=buf)

    def dpm_reference():
        ref.dpmpp_2m_step(x, x0, ts, 5, abar, prev_x0_pred=prev_x0)

    def dpm_with_conversion_native():  # what sample_dpmpp_2m does per step (epsilon model)
        x0_pred, _ = S.convert_prediction(m, x, abar[ts[5]], "epsilon")
        S.dpmpp_2m_step(x, x0_pred, ts, 5, abar, prev_x0_pred=prev_x0, out=buf)

    def dpm_with_conversion_reference():
        x0_pred, _ = ref.convert_prediction(m, x, abar[ts[5]], "epsilon")
        ref.dpmpp_2m_step(x, x0_pred, ts, 5, abar, prev_x0_pred=prev_x0)

    def ddpm_native():
        S.ddpm_step(m, x, 521, 481, abar, noise, out=buf)

    def ddpm_reference():
        ref.ddpm_step(m, x, 521, 481, abar, noise)

    shape = AUDIOLDM2_SHAPE
    out += [
        (f"ddim step (eta 0) AudioLDM2 latent {shape}", ddim_native, ddim_reference),
        (f"dpm-solver++(2M) step AudioLDM2 latent {shape}", dpm_native, dpm_reference),
        (f"eps->x0 + dpm-solver++(2M) step AudioLDM2 latent {shape}", dpm_with_conversion_native,
         dpm_with_conversion_reference),
        (f"ddpm step AudioLDM2 latent {shape}", ddpm_native, ddpm_reference),
    ]
    return out
