"""Plain NumPy reference of the solver kernels (float64 math, float32 states out).

Written from the published formulas and the conventions of diffusers (DDPMScheduler,
DDIMScheduler, DPMSolverMultistepScheduler) and VoxCPM (UnifiedCFM), for clarity, not speed.
The DPM-Solver++ reference goes through diffusers' route (VE sigma -> alpha_t, sigma_t), which
differs from the kernel's (alpha = sqrt(abar), sigma = sqrt(1 - abar)).
"""

from __future__ import annotations

import math

import numpy as np


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def _f32(a):
    return np.asarray(a, dtype=np.float32)


# ---------------------------------------------------------------- flow matching


def fm_timesteps(n_steps, t_start=1.0, t_end=0.0, schedule="uniform", sway_coef=-1.0):
    t = np.linspace(t_start, t_end, n_steps + 1, dtype=np.float64)
    if schedule == "sway":
        t = t + sway_coef * (np.cos(np.pi / 2 * t) - 1 + t)
    return t


def cfg_velocity(v_cond, v_uncond, scale, mode="standard"):
    c, u = _f64(v_cond), _f64(v_uncond)
    if mode == "standard":
        return _f32(u + scale * (c - u))
    b = c.shape[0]
    cf, uf = c.reshape(b, -1), u.reshape(b, -1)
    st = np.sum(cf * uf, axis=1) / (np.sum(uf * uf, axis=1) + 1e-8)
    st = st.reshape((b,) + (1,) * (c.ndim - 1))
    return _f32(u * st + scale * (c - u * st))


def euler_step(x, v, dt):
    return _f32(_f64(x) + dt * _f64(v))


def heun_predict(x, v1, dt):
    return _f32(_f64(x) + dt * _f64(v1))


def heun_correct(x, v1, v2, dt):
    return _f32(_f64(x) + dt / 2 * (_f64(v1) + _f64(v2)))


def midpoint_predict(x, v1, dt):
    return _f32(_f64(x) + dt / 2 * _f64(v1))


def midpoint_correct(x, v2, dt):
    return _f32(_f64(x) + dt * _f64(v2))


def integrate_flow(velocity_fn, x, timesteps, method="euler", cfg_scale=1.0, cfg_mode="standard",
                   zero_init_steps=0):
    """Same contract as voxlite's driver, with the reference steps."""
    x = _f32(x).copy()
    ts = _f64(timesteps)

    def vel(state, t):
        out = velocity_fn(state, t)
        if isinstance(out, tuple):
            return cfg_velocity(out[0], out[1], cfg_scale, cfg_mode)
        return _f32(out)

    for i in range(zero_init_steps, len(ts) - 1):
        t, dt = float(ts[i]), float(ts[i + 1] - ts[i])
        v1 = vel(x, t)
        if method == "euler":
            x = euler_step(x, v1, dt)
        elif method == "heun":
            v2 = vel(heun_predict(x, v1, dt), float(ts[i + 1]))
            x = heun_correct(x, v1, v2, dt)
        else:
            v2 = vel(midpoint_predict(x, v1, dt), t + dt / 2)
            x = midpoint_correct(x, v2, dt)
    return x


def voxcpm_solve_euler(pair_fn, x, t_span, cfg_value, use_cfg_zero_star=True):
    """VoxCPM UnifiedCFM.solve_euler's loop (re-expressed in NumPy float64): pair_fn(x, t) -> (cond, uncond)."""
    x = _f64(x).copy()
    t, dt = t_span[0], t_span[0] - t_span[1]
    zero_init_steps = max(1, int(len(t_span) * 0.04))
    for step in range(1, len(t_span)):
        if use_cfg_zero_star and step <= zero_init_steps:
            v = np.zeros_like(x)
        else:
            c, u = (_f64(a) for a in pair_fn(_f32(x), float(t)))
            b = x.shape[0]
            if use_cfg_zero_star:
                dot = np.sum(c.reshape(b, -1) * u.reshape(b, -1), axis=1)
                st = dot / (np.sum(u.reshape(b, -1) ** 2, axis=1) + 1e-8)
                st = st.reshape((b,) + (1,) * (x.ndim - 1))
            else:
                st = 1.0
            v = u * st + cfg_value * (c - u * st)
        x = x - dt * v
        t = t - dt
        if step < len(t_span) - 1:
            dt = t - t_span[step + 1]
    return x


# ---------------------------------------------------------------- diffusion schedules


def betas(n_train, schedule="linear", beta_start=1e-4, beta_end=0.02):
    if schedule == "linear":
        return np.linspace(beta_start, beta_end, n_train, dtype=np.float64)
    if schedule == "scaled_linear":
        return np.linspace(beta_start**0.5, beta_end**0.5, n_train, dtype=np.float64) ** 2
    if schedule == "squaredcos_cap_v2":
        def abar(u):
            return math.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2

        return np.array([min(1 - abar((i + 1) / n_train) / abar(i / n_train), 0.999) for i in range(n_train)])
    raise ValueError(schedule)


def alphas_cumprod(b):
    return np.cumprod(1.0 - _f64(b))


def diffusion_timesteps(n_train, n_steps, spacing="leading", steps_offset=0, variant="ddim"):
    """diffusers' set_timesteps arithmetic (DDPM/DDIM or DPMSolverMultistep), first n_steps values."""
    T, n = n_train, n_steps
    if variant == "ddim":
        if spacing == "linspace":
            ts = np.linspace(0, T - 1, n).round()[::-1].astype(np.int64)
        elif spacing == "leading":
            ts = (np.arange(0, n) * (T // n)).round()[::-1].astype(np.int64) + steps_offset
        else:
            ts = np.round(np.arange(T, 0, -T / n)).astype(np.int64) - 1
    else:
        if spacing == "linspace":
            ts = np.linspace(0, T - 1, n + 1).round()[::-1][:-1].astype(np.int64)
        elif spacing == "leading":
            ts = (np.arange(0, n + 1) * (T // (n + 1))).round()[::-1][:-1].astype(np.int64) + steps_offset
        else:
            ts = np.arange(T, 0, -T / n).round().astype(np.int64) - 1
    return np.ascontiguousarray(ts[:n])


# ---------------------------------------------------------------- diffusion steps


def convert_prediction(model_output, x_t, a, prediction_type="epsilon"):
    m, x = _f64(model_output), _f64(x_t)
    if prediction_type == "epsilon":
        x0 = (x - (1 - a) ** 0.5 * m) / a**0.5
        eps = m
    elif prediction_type == "v_prediction":
        x0 = a**0.5 * x - (1 - a) ** 0.5 * m
        eps = a**0.5 * m + (1 - a) ** 0.5 * x
    elif prediction_type == "sample":
        x0 = m
        eps = (x - a**0.5 * m) / (1 - a) ** 0.5
    else:
        raise ValueError(prediction_type)
    return x0, eps  # float64


def ddpm_step(model_output, x_t, t, prev_t, abar, noise=None, prediction_type="epsilon", clip_sample=False,
              clip_range=1.0, variance="fixed_small"):
    a_t = abar[t]
    a_prev = abar[prev_t] if prev_t >= 0 else 1.0
    beta_prod_t, beta_prod_prev = 1 - a_t, 1 - a_prev
    cur_alpha = a_t / a_prev
    cur_beta = 1 - cur_alpha
    x0, _ = convert_prediction(model_output, x_t, a_t, prediction_type)
    if clip_sample:
        x0 = np.clip(x0, -clip_range, clip_range)
    mean = (a_prev**0.5 * cur_beta / beta_prod_t) * x0 + (cur_alpha**0.5 * beta_prod_prev / beta_prod_t) * _f64(x_t)
    if t > 0:
        if variance == "fixed_small":
            var = max(beta_prod_prev / beta_prod_t * cur_beta, 1e-20)
        else:
            var = cur_beta
        mean = mean + var**0.5 * _f64(noise)
    return _f32(mean)


def ddim_step(model_output, x_t, t, prev_t, abar, eta=0.0, noise=None, prediction_type="epsilon",
              final_alpha_cumprod=1.0, clip_sample=False, clip_range=1.0):
    a_t = abar[t]
    a_prev = abar[prev_t] if prev_t >= 0 else final_alpha_cumprod
    x0, eps = convert_prediction(model_output, x_t, a_t, prediction_type)
    if clip_sample:
        x0 = np.clip(x0, -clip_range, clip_range)
    var = (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
    std = eta * var**0.5 if eta > 0 else 0.0
    out = a_prev**0.5 * x0 + max(1 - a_prev - std**2, 0.0) ** 0.5 * eps
    if eta > 0:
        out = out + std * _f64(noise)
    return _f32(out)


def dpmpp_2m_step(x, x0_pred, timesteps, step_index, abar, prev_x0_pred=None, final_alpha_cumprod=1.0,
                  lower_order_final=True):
    """diffusers' DPMSolverMultistepScheduler route: VE sigmas -> (alpha_t, sigma_t) -> lambda."""
    abar = _f64(abar)
    ve = np.sqrt((1 - abar) / abar)  # sigma of the VE parametrisation
    n = len(timesteps)
    ve_final = math.sqrt((1 - final_alpha_cumprod) / final_alpha_cumprod)

    def ve_at(i):
        return ve[timesteps[i]] if i < n else ve_final

    def alpha_sigma(s):
        alpha = 1 / math.sqrt(s**2 + 1)
        return alpha, s * alpha

    def lam(alpha, sigma):
        with np.errstate(divide="ignore"):
            return math.log(alpha) - (math.log(sigma) if sigma > 0 else -math.inf)

    i = step_index
    alpha_t, sigma_t = alpha_sigma(ve_at(i + 1))
    alpha_s0, sigma_s0 = alpha_sigma(ve_at(i))
    h = lam(alpha_t, sigma_t) - lam(alpha_s0, sigma_s0)
    x, m0 = _f64(x), _f64(x0_pred)
    last = i == n - 1
    if prev_x0_pred is None or sigma_t == 0 or (last and lower_order_final):
        exp_mh = math.exp(-h)
        return _f32((sigma_t / sigma_s0) * x - (alpha_t * (exp_mh - 1.0)) * m0)
    alpha_s1, sigma_s1 = alpha_sigma(ve_at(i - 1))
    h_0 = lam(alpha_s0, sigma_s0) - lam(alpha_s1, sigma_s1)
    r0 = h_0 / h
    d0, d1 = m0, (1.0 / r0) * (m0 - _f64(prev_x0_pred))
    out = (sigma_t / sigma_s0) * x - (alpha_t * (math.exp(-h) - 1.0)) * d0 - 0.5 * (alpha_t * (math.exp(-h) - 1.0)) * d1
    return _f32(out)
