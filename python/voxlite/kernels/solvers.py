"""Flow-matching ODE steps and diffusion solver steps: small pure functions, the caller owns the loop.

Every step is stateless (like diffusers' schedulers' ``step``, but the step index is passed in, not stored):
the model evaluations happen in the caller, multistep history (DPM-Solver++'s previous x0 prediction)
and noise are passed in as arrays, so a generation replays exactly from its inputs. State tensors are
float32 of any shape; per-item math (CFG-Zero*) uses the leading dim as the batch. Schedules come back
as float64 (times, betas, alpha_bar) or int64 (diffusion timesteps). Each step takes ``out=`` (a float32
C-contiguous array of the state's shape, which may be one of the inputs) to update in place without
allocating.

Flow matching (VoxCPM / F5-TTS): x moves along dx/dt = v(x, t); with VoxCPM's convention t runs
from 1 (noise) to 0 (data) and ``dt = t_next - t`` is negative::

    ts = fm_timesteps(10, schedule="sway", sway_coef=1.0)        # VoxCPM LocDiT defaults
    x = integrate_flow(fn, noise, ts, cfg_scale=2.0, cfg_mode="zero_star",
                       zero_init_steps=max(1, int(len(ts) * 0.04)))

Diffusion (diffusers conventions): integer training timesteps t index ``alphas_cumprod``;
``prev_t`` is the next (smaller) timestep of the sampling loop, ``prev_t < 0`` the clean end::

    abar = alphas_cumprod(betas(1000, schedule="scaled_linear", beta_start=0.00085, beta_end=0.012))
    ts = diffusion_timesteps(1000, 50, spacing="leading", steps_offset=1)
    x = sample_ddim(model_fn, x_T, ts, abar)
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from voxlite import _native

__all__ = [
    "fm_timesteps",
    "shallow_timesteps",
    "shallow_start",
    "cfg_velocity",
    "euler_step",
    "heun_predict",
    "heun_correct",
    "midpoint_predict",
    "midpoint_correct",
    "integrate_flow",
    "betas",
    "alphas_cumprod",
    "diffusion_timesteps",
    "convert_prediction",
    "ddpm_step",
    "ddim_step",
    "dpmpp_2m_step",
    "sample_ddpm",
    "sample_ddim",
    "sample_dpmpp_2m",
]


def _f32(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def _opt_f32(a):
    return None if a is None else _f32(a)


# ---------------------------------------------------------------- flow matching


def fm_timesteps(
    n_steps: int,
    *,
    t_start: float = 1.0,
    t_end: float = 0.0,
    schedule: str = "uniform",
    sway_coef: float = -1.0,
) -> np.ndarray:
    """Time grid for flow matching, float64 ``(n_steps + 1,)`` from ``t_start`` to ``t_end``.

    ``"uniform"``: ``linspace(t_start, t_end, n_steps + 1)``. ``"sway"``: every value t of that
    linspace is mapped to ``t + sway_coef * (cos(pi/2 * t) - 1 + t)``, applied to the raw time
    values exactly as VoxCPM (``UnifiedCFM.forward``: t from 1 to 0, ``sway_sampling_coef=1.0``,
    which puts small steps near t = 1, the noise end) and F5-TTS (t from 0 to 1, ``sway_coef=-1``,
    small steps near t = 0, its noise end) do. The map fixes 0 and 1, so sway needs t_start and
    t_end in [0, 1]; a sway_coef that makes the grid non-monotone (outside about [-1, 1.75]) is a
    ValueError. Note the default ``sway_coef=-1.0`` is F5-TTS's value: pass 1.0 for VoxCPM.
    """
    return _native.fm_timesteps(int(n_steps), float(t_start), float(t_end), schedule, float(sway_coef))


def _check_flow_start(t_start) -> float:
    t = float(t_start)
    if not 0.0 < t <= 1.0:
        raise ValueError(f"flow start must be in (0, 1], got {t_start!r}")
    return t


def shallow_timesteps(n_steps: int, t_start: float, *, schedule: str = "sway", sway_coef: float = 1.0) -> np.ndarray:
    """The grid ``fm_timesteps(n_steps, schedule=..., sway_coef=...)`` from 1 to 0, scaled into [t_start, 0]: a solve
    that starts at ``t_start`` from :func:`shallow_start` with the full grid's shape (sway keeps its small steps at
    the noise end). ``t_start = 1`` is the full grid."""
    return fm_timesteps(n_steps, schedule=schedule, sway_coef=sway_coef) * _check_flow_start(t_start)


def shallow_start(prior, noise, t_start: float) -> np.ndarray:
    """The state at time ``t_start`` on the flow's training path ``(1 - t) x1 + t z`` with the data x1 replaced by a
    prior estimate of it (DiffSinger's shallow diffusion, for flow matching in VoxCPM's convention: t = 1 is noise).
    The solve then refines the prior instead of drawing from noise: fewer steps, and the prior's content kept when
    the velocity model is weaker than the prior. ``t_start = 1`` returns the noise."""
    t = _check_flow_start(t_start)
    prior, noise = _f32(prior), _f32(noise)
    if prior.shape != noise.shape:
        raise ValueError(f"prior {prior.shape} and noise {noise.shape} differ in shape")
    return _f32((1.0 - t) * prior + t * noise)


def cfg_velocity(v_cond, v_uncond, scale: float, *, mode: str = "standard", out=None) -> np.ndarray:
    """Classifier-free guidance of two model outputs, float32 ``(B, ...)``.

    ``"standard"``: ``v_uncond + scale * (v_cond - v_uncond)``. ``"zero_star"`` (CFG-Zero*, as
    VoxCPM ``UnifiedCFM.optimized_scale``): per batch item b,
    ``st = <v_cond_b, v_uncond_b> / (||v_uncond_b||^2 + 1e-8)`` and
    ``v = v_uncond * st + scale * (v_cond - v_uncond * st)`` (dot products in float64).
    """
    return _native.cfg_velocity(_f32(v_cond), _f32(v_uncond), float(scale), mode, out)


def euler_step(x, v, dt: float, *, out=None) -> np.ndarray:
    """``x + dt * v`` (float32, any shape), ``dt = t_next - t``."""
    return _native.euler_step(_f32(x), _f32(v), float(dt), out)


def heun_predict(x, v1, dt: float, *, out=None) -> np.ndarray:
    """Heun predictor ``x + dt * v1``; evaluate ``v2`` there at ``t + dt``."""
    return _native.heun_predict(_f32(x), _f32(v1), float(dt), out)


def heun_correct(x, v1, v2, dt: float, *, out=None) -> np.ndarray:
    """Heun corrector ``x + dt / 2 * (v1 + v2)``."""
    return _native.heun_correct(_f32(x), _f32(v1), _f32(v2), float(dt), out)


def midpoint_predict(x, v1, dt: float, *, out=None) -> np.ndarray:
    """Midpoint predictor ``x + dt / 2 * v1``; evaluate ``v2`` there at ``t + dt / 2``."""
    return _native.midpoint_predict(_f32(x), _f32(v1), float(dt), out)


def midpoint_correct(x, v2, dt: float, *, out=None) -> np.ndarray:
    """Midpoint corrector ``x + dt * v2``."""
    return _native.midpoint_correct(_f32(x), _f32(v2), float(dt), out)


_FLOW_METHODS = ("euler", "heun", "midpoint")


def _guide(out, scale: float, mode: str, shape, what: str) -> np.ndarray:
    """Combine a (cond, uncond) pair with CFG, or pass a single output through (then scale must be 1)."""
    if isinstance(out, tuple):
        if len(out) != 2:
            raise ValueError(f"{what} must return an array or a (cond, uncond) pair, got a {len(out)}-tuple")
        cond, uncond = _f32(out[0]), _f32(out[1])
        if cond.shape != shape:
            raise ValueError(f"{what} returned shape {cond.shape}, expected {shape}")
        return cfg_velocity(cond, uncond, scale, mode=mode)
    if scale != 1.0:
        raise ValueError(f"guidance scale {scale} needs {what} to return a (cond, uncond) pair")
    v = _f32(out)
    if v.shape != shape:
        raise ValueError(f"{what} returned shape {v.shape}, expected {shape}")
    return v


def integrate_flow(
    velocity_fn: Callable[[np.ndarray, float], object],
    x,
    timesteps,
    *,
    method: str = "euler",
    cfg_scale: float = 1.0,
    cfg_mode: str = "standard",
    zero_init_steps: int = 0,
) -> np.ndarray:
    """Integrate dx/dt = v(x, t) over ``timesteps`` (float, any direction) and return the final x.

    ``velocity_fn(x, t)`` gets the float32 state (do not keep or modify it) and the time as a
    Python float, and returns the velocity (an array shaped like x), or a pair
    ``(v_cond, v_uncond)`` which is combined with :func:`cfg_velocity` (``cfg_scale``,
    ``cfg_mode``) at every evaluation; a single velocity requires ``cfg_scale == 1``. The returned
    arrays must not be overwritten by the next call (Heun keeps v1 while evaluating v2).

    ``method``: ``"euler"`` (1 evaluation per step), ``"heun"`` (2: at x and at the Euler
    prediction at t_next) or ``"midpoint"`` (2: at x and at the half-step point at t + dt/2).
    ``zero_init_steps``: the first k steps use zero velocity and skip the model (CFG-Zero*'s zero
    init; VoxCPM uses ``max(1, int(len(timesteps) * 0.04))`` with ``cfg_mode="zero_star"``).
    The input ``x`` is not modified.
    """
    if method not in _FLOW_METHODS:
        raise ValueError(f"unknown method {method!r} (expected one of {_FLOW_METHODS})")
    ts = np.asarray(timesteps, dtype=np.float64)
    if ts.ndim != 1 or ts.shape[0] < 2:
        raise ValueError("timesteps must be 1-D with at least 2 values")
    if not np.all(np.isfinite(ts)):
        raise ValueError("timesteps must be finite")
    n_steps = ts.shape[0] - 1
    if not (0 <= int(zero_init_steps) <= n_steps):
        raise ValueError(f"zero_init_steps must lie in [0, {n_steps}], got {zero_init_steps}")
    if cfg_mode not in ("standard", "zero_star"):
        raise ValueError(f"unknown cfg_mode {cfg_mode!r} (expected 'standard' or 'zero_star')")
    cfg_scale = float(cfg_scale)

    x = np.array(x, dtype=np.float32, order="C", copy=True)  # (...), updated in place
    shape = x.shape
    tmp = np.empty_like(x)

    def velocity(state: np.ndarray, t: float) -> np.ndarray:
        return _guide(velocity_fn(state, t), cfg_scale, cfg_mode, shape, "velocity_fn")

    for i in range(int(zero_init_steps), n_steps):
        t, t_next = float(ts[i]), float(ts[i + 1])
        dt = t_next - t
        v1 = velocity(x, t)
        if method == "euler":
            _native.euler_step(x, v1, dt, x)
        elif method == "heun":
            _native.heun_predict(x, v1, dt, tmp)
            v2 = velocity(tmp, t_next)
            _native.heun_correct(x, v1, v2, dt, x)
        else:
            _native.midpoint_predict(x, v1, dt, tmp)
            v2 = velocity(tmp, t + 0.5 * dt)
            _native.midpoint_correct(x, v2, dt, x)
    return x


# ---------------------------------------------------------------- diffusion schedules


def betas(
    n_train: int, *, schedule: str = "linear", beta_start: float = 1e-4, beta_end: float = 0.02
) -> np.ndarray:
    """Betas, float64 ``(n_train,)``: ``"linear"``, ``"scaled_linear"`` (linspace of square roots,
    squared) or ``"squaredcos_cap_v2"`` (cosine alpha_bar, capped at 0.999; beta_start/end unused),
    as diffusers but in double precision (diffusers rounds to float32)."""
    return _native.betas(int(n_train), schedule, float(beta_start), float(beta_end))


def alphas_cumprod(betas) -> np.ndarray:
    """``cumprod(1 - betas)``, float64 ``(n_train,)``; betas must lie in (0, 1)."""
    return _native.alphas_cumprod(np.ascontiguousarray(betas, dtype=np.float64))


def diffusion_timesteps(
    n_train: int, n_steps: int, spacing: str = "leading", steps_offset: int = 0, *, variant: str = "ddim"
) -> np.ndarray:
    """Descending int64 timesteps ``(n_steps,)`` exactly as diffusers' ``set_timesteps``.

    ``variant="ddim"``: DDPMScheduler / DDIMScheduler (``linspace``: round(linspace(0, T-1, n));
    ``leading``: arange(n) * (T // n) + steps_offset; ``trailing``: round(arange(T, 0, -T/n)) - 1).
    ``variant="dpmsolver"``: DPMSolverMultistepScheduler, which lays n + 1 points and drops the
    t = 0 one (its last step goes to the clean sample). For the few (T, n) where diffusers'
    float ``arange`` makes one extra trailing ``-1``, only the n real timesteps are returned.
    Timesteps outside [0, n_train) or not strictly descending are a ValueError.
    """
    return _native.diffusion_timesteps(int(n_train), int(n_steps), spacing, int(steps_offset), variant)


# ---------------------------------------------------------------- diffusion steps


def convert_prediction(model_output, x_t, alpha_bar_t: float, prediction_type: str = "epsilon"):
    """``(x0_pred, eps_pred)`` (float32, like x_t) from a model output at x_t.

    With a = alpha_bar_t in (0, 1): ``"epsilon"``: x0 = (x - sqrt(1-a) m) / sqrt(a), eps = m;
    ``"v_prediction"``: x0 = sqrt(a) x - sqrt(1-a) m, eps = sqrt(a) m + sqrt(1-a) x;
    ``"sample"``: x0 = m, eps = (x - sqrt(a) m) / sqrt(1-a).
    """
    return _native.convert_prediction(_f32(model_output), _f32(x_t), float(alpha_bar_t), prediction_type)


def _abar(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


def ddpm_step(
    model_output,
    x_t,
    t: int,
    prev_t: int,
    alphas_cumprod,
    noise=None,
    prediction_type: str = "epsilon",
    *,
    clip_sample: bool = False,
    clip_range: float = 1.0,
    variance: str = "fixed_small",
    out=None,
) -> np.ndarray:
    """DDPM ancestral step from t to prev_t < t (``prev_t < 0``: the clean end, alpha_bar 1).

    As diffusers ``DDPMScheduler.step``: x0 from the model output (optionally clipped to
    ``[-clip_range, clip_range]``), posterior mean of q(x_prev | x_t, x0), plus
    ``sqrt(var) * noise`` when ``t > 0`` (``noise`` float32 like x_t is then required; at t == 0
    nothing is added). ``variance``: ``"fixed_small"`` (posterior variance, clamped at 1e-20) or
    ``"fixed_large"`` (beta_t).
    """
    return _native.ddpm_step(
        _f32(model_output), _f32(x_t), int(t), int(prev_t), _abar(alphas_cumprod), _opt_f32(noise),
        prediction_type, bool(clip_sample), float(clip_range), variance, out,
    )


def ddim_step(
    model_output,
    x_t,
    t: int,
    prev_t: int,
    alphas_cumprod,
    *,
    eta: float = 0.0,
    noise=None,
    prediction_type: str = "epsilon",
    final_alpha_cumprod: float = 1.0,
    clip_sample: bool = False,
    clip_range: float = 1.0,
    out=None,
) -> np.ndarray:
    """DDIM step from t to prev_t (diffusers ``DDIMScheduler.step``, ``use_clipped_model_output=False``).

    ``prev_t < 0`` steps to ``final_alpha_cumprod`` (1.0 = ``set_alpha_to_one=True``; pass
    ``alphas_cumprod[0]`` for False). ``eta > 0`` adds ``eta * sigma_t * noise`` (noise required).
    ``prev_t > t`` with ``eta == 0`` is the DDIM inversion step. Note diffusers' DDIM itself uses
    ``prev_t = t - n_train // n_steps``, which is the next timestep for ``leading`` spacing.
    """
    return _native.ddim_step(
        _f32(model_output), _f32(x_t), int(t), int(prev_t), _abar(alphas_cumprod), float(eta), _opt_f32(noise),
        prediction_type, float(final_alpha_cumprod), bool(clip_sample), float(clip_range), out,
    )


def dpmpp_2m_step(
    x,
    x0_pred,
    timesteps,
    step_index: int,
    alphas_cumprod,
    *,
    prev_x0_pred=None,
    final_alpha_cumprod: float = 1.0,
    lower_order_final: bool = True,
    out=None,
) -> np.ndarray:
    """DPM-Solver++(2M) step from ``timesteps[step_index]`` to the next timestep.

    As diffusers ``DPMSolverMultistepScheduler`` (dpmsolver++, order 2, midpoint). ``x0_pred`` is
    the data prediction at this step (see :func:`convert_prediction`), ``prev_x0_pred`` the one
    of the previous step (``None`` at step 0: first order). After the last timestep the target
    is ``final_alpha_cumprod`` (1.0 = diffusers' ``final_sigmas_type="zero"``; ``alphas_cumprod[0]``
    = ``"sigma_min"``). With alpha = sqrt(abar), sigma = sqrt(1 - abar), lambda = log(alpha/sigma),
    h = lambda_next - lambda_now, r = (lambda_now - lambda_prev) / h::

        x_next = sigma_next/sigma_now * x + alpha_next (1 - e^-h) (x0 + (x0 - x0_prev) / (2 r))

    First order (drop the bracket's second term) at step 0, on the last step when
    ``lower_order_final``, and always when stepping to sigma = 0.
    """
    return _native.dpmpp_2m_step(
        _f32(x), _f32(x0_pred), np.ascontiguousarray(timesteps, dtype=np.int64), int(step_index),
        _abar(alphas_cumprod), _opt_f32(prev_x0_pred), float(final_alpha_cumprod), bool(lower_order_final), out,
    )


# ---------------------------------------------------------------- diffusion drivers


def _loop_setup(x_T, timesteps, alphas_cumprod_):
    ts = np.ascontiguousarray(timesteps, dtype=np.int64)
    if ts.ndim != 1 or ts.shape[0] < 1:
        raise ValueError("timesteps must be 1-D and non-empty")
    abar = _abar(alphas_cumprod_)
    x = np.array(x_T, dtype=np.float32, order="C", copy=True)  # (...), updated in place
    return ts, abar, x


def _noise_at(noises, i: int, shape) -> np.ndarray:
    if noises is None:
        raise ValueError(f"step {i} needs noise but noises is None")
    if i >= len(noises):
        raise ValueError(f"noises has {len(noises)} entries but step {i} needs one")
    nz = _f32(noises[i])
    if nz.shape != shape:
        raise ValueError(f"noises[{i}] has shape {nz.shape}, expected {shape}")
    return nz


def sample_ddpm(
    model_fn: Callable[[np.ndarray, int], object],
    x_T,
    timesteps,
    alphas_cumprod,
    noises: Sequence | np.ndarray | None,
    *,
    prediction_type: str = "epsilon",
    guidance_scale: float = 1.0,
    clip_sample: bool = False,
    clip_range: float = 1.0,
    variance: str = "fixed_small",
) -> np.ndarray:
    """Run DDPM over ``timesteps`` (descending ints) from ``x_T`` and return x_0.

    ``model_fn(x, t)`` returns the model output (float32 like x) or a ``(cond, uncond)`` pair
    combined as ``uncond + guidance_scale * (cond - uncond)``. ``noises[i]`` (float32 like x,
    e.g. an array ``(n_steps, *x.shape)``) is the variance noise of step i, needed where t > 0.
    Step i goes to ``timesteps[i + 1]``, the last to the clean end.
    """
    ts, abar, x = _loop_setup(x_T, timesteps, alphas_cumprod)
    for i in range(ts.shape[0]):
        t = int(ts[i])
        prev_t = int(ts[i + 1]) if i + 1 < ts.shape[0] else -1
        out = _guide(model_fn(x, t), float(guidance_scale), "standard", x.shape, "model_fn")
        noise = _noise_at(noises, i, x.shape) if t > 0 else None
        _native.ddpm_step(out, x, t, prev_t, abar, noise, prediction_type, bool(clip_sample), float(clip_range),
                          variance, x)
    return x


def sample_ddim(
    model_fn: Callable[[np.ndarray, int], object],
    x_T,
    timesteps,
    alphas_cumprod,
    *,
    eta: float = 0.0,
    noises: Sequence | np.ndarray | None = None,
    prediction_type: str = "epsilon",
    guidance_scale: float = 1.0,
    final_alpha_cumprod: float = 1.0,
    clip_sample: bool = False,
    clip_range: float = 1.0,
) -> np.ndarray:
    """Run DDIM over ``timesteps`` (descending ints) from ``x_T`` and return x_0.

    Step i goes from ``timesteps[i]`` to ``timesteps[i + 1]`` (the last to ``final_alpha_cumprod``);
    for ``leading`` spacing this is diffusers' ``t - n_train // n_steps``. ``model_fn`` as in
    :func:`sample_ddpm`; ``noises[i]`` is needed for every step when ``eta > 0``.
    """
    ts, abar, x = _loop_setup(x_T, timesteps, alphas_cumprod)
    for i in range(ts.shape[0]):
        t = int(ts[i])
        prev_t = int(ts[i + 1]) if i + 1 < ts.shape[0] else -1
        out = _guide(model_fn(x, t), float(guidance_scale), "standard", x.shape, "model_fn")
        noise = _noise_at(noises, i, x.shape) if eta > 0 else None
        _native.ddim_step(out, x, t, prev_t, abar, float(eta), noise, prediction_type, float(final_alpha_cumprod),
                          bool(clip_sample), float(clip_range), x)
    return x


def sample_dpmpp_2m(
    model_fn: Callable[[np.ndarray, int], object],
    x_T,
    timesteps,
    alphas_cumprod,
    *,
    prediction_type: str = "epsilon",
    guidance_scale: float = 1.0,
    final_alpha_cumprod: float = 1.0,
    lower_order_final: bool = True,
) -> np.ndarray:
    """Run DPM-Solver++(2M) over ``timesteps`` (descending ints, e.g.
    ``diffusion_timesteps(..., variant="dpmsolver")``) from ``x_T`` and return x_0.

    ``model_fn`` as in :func:`sample_ddpm`. As diffusers, the last step is first order when
    stepping to sigma = 0 (``final_alpha_cumprod == 1``) or when ``lower_order_final`` and there
    are fewer than 15 steps.
    """
    ts, abar, x = _loop_setup(x_T, timesteps, alphas_cumprod)
    lof = bool(lower_order_final) and ts.shape[0] < 15
    prev_x0 = None
    for i in range(ts.shape[0]):
        t = int(ts[i])
        if not 0 <= t < abar.shape[0]:
            raise ValueError(f"timestep {t} is out of range [0, {abar.shape[0]})")
        out = _guide(model_fn(x, t), float(guidance_scale), "standard", x.shape, "model_fn")
        x0, _ = _native.convert_prediction(out, x, float(abar[t]), prediction_type)
        _native.dpmpp_2m_step(x, x0, ts, i, abar, prev_x0, float(final_alpha_cumprod), lof, x)
        prev_x0 = x0
    return x
