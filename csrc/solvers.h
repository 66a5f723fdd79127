// Stateless ODE / diffusion solver steps and their schedules.
//
// Design (like diffusers schedulers without the state): every function is a pure
// step or a pure schedule. The caller owns the loop and the model evaluations; multistep history
// (DPM-Solver++ previous x0 prediction) and noise are passed in explicitly, so a generation
// replays exactly. State tensors are float32 buffers of N elements (any shape, treated flat);
// CFG-Zero* works per batch item (a leading batch dim B, N = B * per_item). Per-element math is
// done in double and rounded once to float32. Schedules are computed in double.
//
// Typical flow-matching loop (VoxCPM / F5-TTS conventions, t from 1 = noise to 0 = data):
//     fm_timesteps(n, 1.0, 0.0, TimeSchedule::sway, 1.0, ts);
//     for i: v = model(x, ts[i]);  euler_step(x, v, ts[i+1] - ts[i], x, N);
// Typical diffusion loop (diffusers conventions, t an integer training timestep):
//     make_betas(...); alphas_cumprod(...); diffusion_timesteps(...);
//     for i: out = model(x, t[i]);  ddim_step(out, x, ..., t[i], t[i+1] or -1, ..., x);
//
// All functions validate arguments and throw std::invalid_argument (ValueError in Python).
// Output buffers may alias any input buffer of the same size (in-place updates are safe).
#pragma once

#include <cstdint>
#include <string>

namespace voxlite {

// ---------------------------------------------------------------- flow matching

enum class TimeSchedule { uniform, sway };
enum class CfgMode { standard, zero_star };

TimeSchedule parse_time_schedule(const std::string& s);  // "uniform" | "sway"
CfgMode parse_cfg_mode(const std::string& s);            // "standard" | "zero_star"

// out[0..n_steps] = linspace(t_start, t_end, n_steps + 1) (numpy.linspace arithmetic, exact endpoints);
// with TimeSchedule::sway each value is then mapped by f(t) = t + sway_coef * (cos(pi/2 t) - 1 + t)
// (applied to the raw time values, exactly as VoxCPM UnifiedCFM.forward and F5-TTS do; f fixes 0 and 1
// and needs t_start, t_end in [0, 1]). The result must be strictly monotone, else invalid_argument.
void fm_timesteps(int64_t n_steps, double t_start, double t_end, TimeSchedule schedule, double sway_coef,
                  double* out);

// Classifier-free guidance on velocities (or on any model output), B items of per_item elements.
// standard:  out = u + scale * (c - u)
// zero_star: st_b = <c_b, u_b> / (||u_b||^2 + 1e-8)   (CFG-Zero*, VoxCPM UnifiedCFM.optimized_scale)
//            out  = u * st_b + scale * (c - u * st_b)
void cfg_velocity(const float* v_cond, const float* v_uncond, float* out, int64_t batch, int64_t per_item,
                  double scale, CfgMode mode);

// out = x + a * v  and  out = x + a * (v1 + v2); the named ODE steps below are these two.
void axpy(const float* x, const float* v, double a, float* out, int64_t n);
void axpy2(const float* x, const float* v1, const float* v2, double a, float* out, int64_t n);

// dt = t_next - t (may be negative: VoxCPM integrates from 1 to 0).
inline void euler_step(const float* x, const float* v, double dt, float* out, int64_t n) { axpy(x, v, dt, out, n); }
inline void heun_predict(const float* x, const float* v1, double dt, float* out, int64_t n) {
    axpy(x, v1, dt, out, n);
}
inline void heun_correct(const float* x, const float* v1, const float* v2, double dt, float* out, int64_t n) {
    axpy2(x, v1, v2, 0.5 * dt, out, n);
}
inline void midpoint_predict(const float* x, const float* v1, double dt, float* out, int64_t n) {
    axpy(x, v1, 0.5 * dt, out, n);
}
inline void midpoint_correct(const float* x, const float* v2, double dt, float* out, int64_t n) {
    axpy(x, v2, dt, out, n);
}

// ---------------------------------------------------------------- diffusion schedules

enum class BetaSchedule { linear, scaled_linear, squaredcos_cap_v2 };
enum class Spacing { leading, trailing, linspace };
// Which diffusers set_timesteps convention: DDPMScheduler/DDIMScheduler ("ddim") or
// DPMSolverMultistepScheduler ("dpmsolver": n_steps + 1 grid points, the final t = 0 point dropped
// because the solver's last step goes to the clean sample).
enum class TimestepVariant { ddim, dpmsolver };
enum class PredictionType { epsilon, v_prediction, sample };
enum class DdpmVariance { fixed_small, fixed_large };

BetaSchedule parse_beta_schedule(const std::string& s);
Spacing parse_spacing(const std::string& s);
TimestepVariant parse_timestep_variant(const std::string& s);
PredictionType parse_prediction_type(const std::string& s);
DdpmVariance parse_ddpm_variance(const std::string& s);

// out[n_train]: linear = linspace(beta_start, beta_end), scaled_linear = linspace(sqrt(bs), sqrt(be))^2,
// squaredcos_cap_v2 = 1 - abar(i+1)/abar(i) with abar(u) = cos((u/n + 0.008)/1.008 * pi/2)^2, capped at 0.999
// (beta_start / beta_end unused). Computed in double (diffusers rounds to float32).
void make_betas(int64_t n_train, BetaSchedule schedule, double beta_start, double beta_end, double* out);

// out[i] = prod_{j<=i} (1 - betas[j]); every beta must lie in (0, 1).
void alphas_cumprod(const double* betas, int64_t n, double* out);

// Descending int64 timesteps as diffusers' set_timesteps (see TimestepVariant). Exactly n_steps values;
// all must lie in [0, n_train) and be strictly descending, else invalid_argument.
void diffusion_timesteps(int64_t n_train, int64_t n_steps, Spacing spacing, int64_t steps_offset,
                         TimestepVariant variant, int64_t* out);

// ---------------------------------------------------------------- diffusion steps
// alphas_cumprod: n_train values in (0, 1]; t indexes it. prev_t < 0 means the clean end, whose
// alpha_bar is 1 for DDPM and final_alpha_cumprod for DDIM / DPM-Solver++.

// (x0, eps) from a model output at x_t with alpha_bar_t in (0, 1). Either output may be null.
void convert_prediction(const float* model_output, const float* x_t, int64_t n, double alpha_bar_t,
                        PredictionType type, float* x0_out, float* eps_out);

// DDPM ancestral step (diffusers DDPMScheduler.step): posterior mean + sqrt(var) * noise, where noise is
// added only when t > 0 (then it is required). Needs prev_t < t.
void ddpm_step(const float* model_output, const float* x_t, const float* noise, int64_t n,
               const double* alphas_cumprod, int64_t n_train, int64_t t, int64_t prev_t, PredictionType type,
               bool clip_sample, double clip_range, DdpmVariance variance, float* out);

// DDIM step (diffusers DDIMScheduler.step, use_clipped_model_output=False). eta > 0 needs noise and
// prev_t < t. prev_t > t (eta = 0) is the DDIM inversion step.
void ddim_step(const float* model_output, const float* x_t, const float* noise, int64_t n,
               const double* alphas_cumprod, int64_t n_train, int64_t t, int64_t prev_t, PredictionType type,
               double eta, double final_alpha_cumprod, bool clip_sample, double clip_range, float* out);

// DPM-Solver++(2M) step (diffusers DPMSolverMultistepScheduler, algorithm_type dpmsolver++, solver_order 2,
// solver_type midpoint) from timesteps[step_index] to timesteps[step_index + 1] (or to the clean end with
// final_alpha_cumprod after the last one). x0_pred is the data prediction at the current step,
// prev_x0_pred (nullable) the one from step_index - 1. alpha = sqrt(abar), sigma = sqrt(1 - abar),
// lambda = log(alpha / sigma). First order (= DDIM) when prev_x0_pred is null (the first step), on the
// last step if lower_order_final, and always on a last step to sigma = 0 (final_alpha_cumprod == 1).
void dpmpp_2m_step(const float* x, const float* x0_pred, const float* prev_x0_pred, int64_t n,
                   const int64_t* timesteps, int64_t n_steps, int64_t step_index, const double* alphas_cumprod,
                   int64_t n_train, double final_alpha_cumprod, bool lower_order_final, float* out);

}  // namespace voxlite
