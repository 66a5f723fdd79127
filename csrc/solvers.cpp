// Stateless flow-matching and diffusion solver steps (see solvers.h for the conventions).
#include "solvers.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common.h"

namespace voxlite {

namespace {

constexpr double kPi = 3.14159265358979323846;

bool finite(double v) { return std::isfinite(v); }

// For checks inside loops: the message is only built once a check has failed.
[[noreturn]] void fail(const std::string& message) { throw std::invalid_argument(message); }

// a * b + c without FMA contraction, so schedules round exactly like NumPy's linspace / arange.
double mul_add_exact(double a, double b, double c) {
    volatile double prod = a * b;
    return prod + c;
}

// Round half to even, like numpy.round (default FE_TONEAREST rounding mode).
int64_t round_even(double v) { return static_cast<int64_t>(std::nearbyint(v)); }

// numpy.linspace(start, stop, num) arithmetic: y[i] = i * step + start, y[num-1] = stop.
void linspace(double start, double stop, int64_t num, double* out) {
    if (num == 1) {
        out[0] = start;
        return;
    }
    const double step = (stop - start) / static_cast<double>(num - 1);
    for (int64_t i = 0; i < num; ++i) out[i] = mul_add_exact(static_cast<double>(i), step, start);
    out[num - 1] = stop;
}

void check_alphas_cumprod(const double* alphas_cumprod, int64_t n_train) {
    require(n_train >= 1, "alphas_cumprod must not be empty");
    for (int64_t i = 0; i < n_train; ++i) {
        const double a = alphas_cumprod[i];
        if (!(finite(a) && a > 0.0 && a <= 1.0))
            fail("alphas_cumprod values must lie in (0, 1], got " + std::to_string(a) + " at index " +
                 std::to_string(i));
    }
}

double alpha_at(const double* alphas_cumprod, int64_t n_train, int64_t t, const char* name) {
    require(t >= 0 && t < n_train, std::string(name) + " = " + std::to_string(t) + " is out of range [0, " +
                                       std::to_string(n_train) + ")");
    return alphas_cumprod[t];
}

void check_noisy_alpha(double a, const char* what) {
    require(a < 1.0, std::string("alpha_bar at ") + what + " must be < 1 (a noisy level), got " + std::to_string(a));
}

void check_clip(bool clip_sample, double clip_range) {
    if (clip_sample) require(finite(clip_range) && clip_range > 0.0, "clip_range must be a positive finite number");
}

// Coefficients of (x0, eps) as linear combinations of (model_output m, x_t x):
// x0 = x0_m * m + x0_x * x,  eps = eps_m * m + eps_x * x.
struct PredictionCoefs {
    double x0_m, x0_x, eps_m, eps_x;
};

PredictionCoefs prediction_coefs(double alpha_bar, PredictionType type) {
    require(finite(alpha_bar) && alpha_bar > 0.0 && alpha_bar < 1.0,
            "alpha_bar_t must lie in (0, 1), got " + std::to_string(alpha_bar));
    const double sa = std::sqrt(alpha_bar), sb = std::sqrt(1.0 - alpha_bar);
    switch (type) {
        case PredictionType::epsilon: return {-sb / sa, 1.0 / sa, 1.0, 0.0};
        case PredictionType::v_prediction: return {-sb, sa, sa, sb};
        case PredictionType::sample: return {1.0, 0.0, -sa / sb, 1.0 / sb};
    }
    throw std::invalid_argument("unknown prediction_type");
}

// ---- hot loops (double arithmetic, one rounding to float32 per element)

VOXLITE_HOT void axpy_loop(const float* x, const float* v, double a, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(double(x[i]) + a * double(v[i]));
}

VOXLITE_HOT void axpy2_loop(const float* x, const float* v1, const float* v2, double a, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(double(x[i]) + a * (double(v1[i]) + double(v2[i])));
}

// out = cu * u + cc * c
VOXLITE_HOT void lincomb2_loop(const float* c, const float* u, double cc, double cu, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(cu * double(u[i]) + cc * double(c[i]));
}

VOXLITE_HOT void dot_norm_loop(const float* c, const float* u, int64_t n, double* dot, double* norm) {
    double d = 0.0, s = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        d += double(c[i]) * double(u[i]);
        s += double(u[i]) * double(u[i]);
    }
    *dot = d;
    *norm = s;
}

VOXLITE_HOT void convert_loop(const float* m, const float* x, PredictionCoefs k, float* x0, float* eps, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const double mi = m[i], xi = x[i];
        if (x0) x0[i] = static_cast<float>(k.x0_m * mi + k.x0_x * xi);
        if (eps) eps[i] = static_cast<float>(k.eps_m * mi + k.eps_x * xi);
    }
}

// out = c0 * clip(x0) + cx * x + ce * eps + cn * noise, with x0 / eps from (m, x) by k (eps unclipped).
VOXLITE_HOT void diffusion_update_loop(const float* m, const float* x, const float* noise, PredictionCoefs k,
                                       bool clip, double clip_range, double c0, double cx, double ce, double cn,
                                       float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const double mi = m[i], xi = x[i];
        double x0 = k.x0_m * mi + k.x0_x * xi;
        const double eps = k.eps_m * mi + k.eps_x * xi;
        if (clip) x0 = x0 < -clip_range ? -clip_range : (x0 > clip_range ? clip_range : x0);
        double r = c0 * x0 + cx * xi + ce * eps;
        if (noise) r += cn * double(noise[i]);
        out[i] = static_cast<float>(r);
    }
}

// out = cx * x + c0 * m0 + c1 * m1 (m1 may be null when c1 == 0)
VOXLITE_HOT void dpm_loop(const float* x, const float* m0, const float* m1, double cx, double c0, double c1,
                          float* out, int64_t n) {
    if (m1) {
        for (int64_t i = 0; i < n; ++i)
            out[i] = static_cast<float>(cx * double(x[i]) + c0 * double(m0[i]) + c1 * double(m1[i]));
    } else {
        for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(cx * double(x[i]) + c0 * double(m0[i]));
    }
}

}  // namespace

// ---------------------------------------------------------------- parsing

TimeSchedule parse_time_schedule(const std::string& s) {
    if (s == "uniform") return TimeSchedule::uniform;
    if (s == "sway") return TimeSchedule::sway;
    throw std::invalid_argument("unknown schedule '" + s + "' (expected 'uniform' or 'sway')");
}

CfgMode parse_cfg_mode(const std::string& s) {
    if (s == "standard") return CfgMode::standard;
    if (s == "zero_star") return CfgMode::zero_star;
    throw std::invalid_argument("unknown cfg mode '" + s + "' (expected 'standard' or 'zero_star')");
}

BetaSchedule parse_beta_schedule(const std::string& s) {
    if (s == "linear") return BetaSchedule::linear;
    if (s == "scaled_linear") return BetaSchedule::scaled_linear;
    if (s == "squaredcos_cap_v2") return BetaSchedule::squaredcos_cap_v2;
    throw std::invalid_argument("unknown beta schedule '" + s +
                                "' (expected 'linear', 'scaled_linear' or 'squaredcos_cap_v2')");
}

Spacing parse_spacing(const std::string& s) {
    if (s == "leading") return Spacing::leading;
    if (s == "trailing") return Spacing::trailing;
    if (s == "linspace") return Spacing::linspace;
    throw std::invalid_argument("unknown spacing '" + s + "' (expected 'leading', 'trailing' or 'linspace')");
}

TimestepVariant parse_timestep_variant(const std::string& s) {
    if (s == "ddim") return TimestepVariant::ddim;
    if (s == "dpmsolver") return TimestepVariant::dpmsolver;
    throw std::invalid_argument("unknown timestep variant '" + s + "' (expected 'ddim' or 'dpmsolver')");
}

PredictionType parse_prediction_type(const std::string& s) {
    if (s == "epsilon") return PredictionType::epsilon;
    if (s == "v_prediction") return PredictionType::v_prediction;
    if (s == "sample") return PredictionType::sample;
    throw std::invalid_argument("unknown prediction_type '" + s +
                                "' (expected 'epsilon', 'v_prediction' or 'sample')");
}

DdpmVariance parse_ddpm_variance(const std::string& s) {
    if (s == "fixed_small") return DdpmVariance::fixed_small;
    if (s == "fixed_large") return DdpmVariance::fixed_large;
    throw std::invalid_argument("unknown variance '" + s + "' (expected 'fixed_small' or 'fixed_large')");
}

// ---------------------------------------------------------------- flow matching

void fm_timesteps(int64_t n_steps, double t_start, double t_end, TimeSchedule schedule, double sway_coef,
                  double* out) {
    require(n_steps >= 1, "n_steps must be >= 1, got " + std::to_string(n_steps));
    require(finite(t_start) && finite(t_end), "t_start and t_end must be finite");
    require(t_start != t_end, "t_start and t_end must differ");
    linspace(t_start, t_end, n_steps + 1, out);
    if (schedule == TimeSchedule::sway) {
        require(finite(sway_coef), "sway_coef must be finite");
        require(t_start >= 0.0 && t_start <= 1.0 && t_end >= 0.0 && t_end <= 1.0,
                "the sway schedule needs t_start and t_end in [0, 1]");
        for (int64_t i = 0; i <= n_steps; ++i) {
            const double t = out[i];
            out[i] = t + sway_coef * (std::cos(kPi / 2.0 * t) - 1.0 + t);
        }
    }
    const bool down = t_end < t_start;
    for (int64_t i = 0; i < n_steps; ++i) {
        const bool ok = down ? out[i + 1] < out[i] : out[i + 1] > out[i];
        if (!ok)
            fail("timesteps are not strictly monotone (sway_coef " + std::to_string(sway_coef) +
                 " folds the time axis; use sway_coef in [-1, 1.75])");
    }
}

void cfg_velocity(const float* v_cond, const float* v_uncond, float* out, int64_t batch, int64_t per_item,
                  double scale, CfgMode mode) {
    require(batch >= 0 && per_item >= 0, "negative size");
    require(finite(scale), "cfg scale must be finite");
    if (mode == CfgMode::standard) {
        lincomb2_loop(v_cond, v_uncond, scale, 1.0 - scale, out, batch * per_item);
        return;
    }
    for (int64_t b = 0; b < batch; ++b) {
        const float* c = v_cond + b * per_item;
        const float* u = v_uncond + b * per_item;
        double dot = 0.0, norm = 0.0;
        dot_norm_loop(c, u, per_item, &dot, &norm);
        const double st = dot / (norm + 1e-8);
        // u * st + scale * (c - u * st) = scale * c + (1 - scale) * st * u
        lincomb2_loop(c, u, scale, (1.0 - scale) * st, out + b * per_item, per_item);
    }
}

void axpy(const float* x, const float* v, double a, float* out, int64_t n) {
    require(finite(a), "dt must be finite");
    axpy_loop(x, v, a, out, n);
}

void axpy2(const float* x, const float* v1, const float* v2, double a, float* out, int64_t n) {
    require(finite(a), "dt must be finite");
    axpy2_loop(x, v1, v2, a, out, n);
}

// ---------------------------------------------------------------- diffusion schedules

void make_betas(int64_t n_train, BetaSchedule schedule, double beta_start, double beta_end, double* out) {
    require(n_train >= 1, "n_train must be >= 1, got " + std::to_string(n_train));
    if (schedule == BetaSchedule::squaredcos_cap_v2) {
        auto abar = [](double u) {
            const double c = std::cos((u + 0.008) / 1.008 * kPi / 2.0);
            return c * c;
        };
        const double n = static_cast<double>(n_train);
        for (int64_t i = 0; i < n_train; ++i) {
            const double t1 = static_cast<double>(i) / n, t2 = static_cast<double>(i + 1) / n;
            out[i] = std::min(1.0 - abar(t2) / abar(t1), 0.999);
        }
        return;
    }
    require(finite(beta_start) && finite(beta_end) && beta_start > 0.0 && beta_end > 0.0 && beta_start < 1.0 &&
                beta_end < 1.0,
            "beta_start and beta_end must lie in (0, 1)");
    if (schedule == BetaSchedule::linear) {
        linspace(beta_start, beta_end, n_train, out);
    } else {
        linspace(std::sqrt(beta_start), std::sqrt(beta_end), n_train, out);
        for (int64_t i = 0; i < n_train; ++i) out[i] = out[i] * out[i];
    }
}

void alphas_cumprod(const double* betas, int64_t n, double* out) {
    require(n >= 1, "betas must not be empty");
    double p = 1.0;
    for (int64_t i = 0; i < n; ++i) {
        const double b = betas[i];
        if (!(finite(b) && b > 0.0 && b < 1.0))
            fail("betas must lie in (0, 1), got " + std::to_string(b) + " at index " + std::to_string(i));
        p *= 1.0 - b;
        out[i] = p;
    }
}

void diffusion_timesteps(int64_t n_train, int64_t n_steps, Spacing spacing, int64_t steps_offset,
                         TimestepVariant variant, int64_t* out) {
    require(n_train >= 1, "n_train must be >= 1, got " + std::to_string(n_train));
    require(n_steps >= 1, "n_steps must be >= 1, got " + std::to_string(n_steps));
    require(n_steps <= n_train, "n_steps (" + std::to_string(n_steps) + ") cannot exceed n_train (" +
                                    std::to_string(n_train) + ")");
    require(steps_offset >= 0, "steps_offset must be >= 0");
    const bool dpm = variant == TimestepVariant::dpmsolver;
    switch (spacing) {
        case Spacing::linspace: {
            // ddim: round(linspace(0, T-1, n))[::-1]; dpmsolver: round(linspace(0, T-1, n+1))[::-1][:-1]
            const int64_t num = dpm ? n_steps + 1 : n_steps;
            std::vector<double> grid(static_cast<size_t>(num));
            linspace(0.0, static_cast<double>(n_train - 1), num, grid.data());
            for (int64_t j = 0; j < n_steps; ++j) out[j] = round_even(grid[num - 1 - j]);
            break;
        }
        case Spacing::leading: {
            // ddim: arange(n) * (T // n) reversed; dpmsolver: arange(n+1) * (T // (n+1)) reversed, last dropped
            const int64_t num = dpm ? n_steps + 1 : n_steps;
            const int64_t ratio = n_train / num;
            for (int64_t j = 0; j < n_steps; ++j) out[j] = (num - 1 - j) * ratio + steps_offset;
            break;
        }
        case Spacing::trailing: {
            // round(numpy.arange(T, 0, -T/n)) - 1, reproducing numpy's arange fill arithmetic
            // (a[0] = start, a[1] = start + step, a[i] = start + i * (a[1] - a[0])). diffusers' float
            // arange sometimes yields one extra trailing -1; only the first n_steps values are kept.
            const double start = static_cast<double>(n_train);
            const double step = -(start / static_cast<double>(n_steps));
            const double a1 = start + step;
            const double delta = a1 - start;
            for (int64_t j = 0; j < n_steps; ++j) {
                const double v = j == 0 ? start : (j == 1 ? a1 : mul_add_exact(static_cast<double>(j), delta, start));
                out[j] = round_even(v) - 1;
            }
            break;
        }
    }
    for (int64_t j = 0; j < n_steps; ++j) {
        if (out[j] < 0 || out[j] >= n_train)
            fail("timestep " + std::to_string(out[j]) + " falls outside [0, n_train) (check steps_offset)");
        if (j > 0 && out[j] >= out[j - 1])
            fail("timesteps are not strictly descending (too many steps for this spacing: " +
                 std::to_string(n_steps) + " of " + std::to_string(n_train) + ")");
    }
}

// ---------------------------------------------------------------- diffusion steps

void convert_prediction(const float* model_output, const float* x_t, int64_t n, double alpha_bar_t,
                        PredictionType type, float* x0_out, float* eps_out) {
    const PredictionCoefs k = prediction_coefs(alpha_bar_t, type);
    convert_loop(model_output, x_t, k, x0_out, eps_out, n);
}

void ddpm_step(const float* model_output, const float* x_t, const float* noise, int64_t n,
               const double* alphas_cumprod, int64_t n_train, int64_t t, int64_t prev_t, PredictionType type,
               bool clip_sample, double clip_range, DdpmVariance variance, float* out) {
    check_alphas_cumprod(alphas_cumprod, n_train);
    const double a_t = alpha_at(alphas_cumprod, n_train, t, "t");
    require(prev_t < t, "ddpm_step needs prev_t < t (got t = " + std::to_string(t) + ", prev_t = " +
                            std::to_string(prev_t) + ")");
    const double a_p = prev_t >= 0 ? alphas_cumprod[prev_t] : 1.0;
    check_noisy_alpha(a_t, "t");
    require(a_p >= a_t, "alphas_cumprod must not increase from prev_t to t");
    check_clip(clip_sample, clip_range);
    const bool add_noise = t > 0;
    require(!add_noise || noise != nullptr, "ddpm_step needs noise when t > 0");

    const double beta_prod_t = 1.0 - a_t, beta_prod_p = 1.0 - a_p;
    const double cur_alpha = a_t / a_p, cur_beta = 1.0 - cur_alpha;
    const double c0 = std::sqrt(a_p) * cur_beta / beta_prod_t;
    const double cx = std::sqrt(cur_alpha) * beta_prod_p / beta_prod_t;
    double std_dev = 0.0;
    if (add_noise) {
        if (variance == DdpmVariance::fixed_small)
            std_dev = std::sqrt(std::max(beta_prod_p / beta_prod_t * cur_beta, 1e-20));
        else
            std_dev = std::sqrt(cur_beta);
    }
    const PredictionCoefs k = prediction_coefs(a_t, type);
    diffusion_update_loop(model_output, x_t, add_noise ? noise : nullptr, k, clip_sample, clip_range, c0, cx, 0.0,
                          std_dev, out, n);
}

void ddim_step(const float* model_output, const float* x_t, const float* noise, int64_t n,
               const double* alphas_cumprod, int64_t n_train, int64_t t, int64_t prev_t, PredictionType type,
               double eta, double final_alpha_cumprod, bool clip_sample, double clip_range, float* out) {
    check_alphas_cumprod(alphas_cumprod, n_train);
    const double a_t = alpha_at(alphas_cumprod, n_train, t, "t");
    require(finite(final_alpha_cumprod) && final_alpha_cumprod > 0.0 && final_alpha_cumprod <= 1.0,
            "final_alpha_cumprod must lie in (0, 1]");
    require(prev_t < n_train, "prev_t = " + std::to_string(prev_t) + " is out of range (< " +
                                  std::to_string(n_train) + ")");
    require(prev_t != t, "prev_t must differ from t");
    require(finite(eta) && eta >= 0.0, "eta must be a finite number >= 0");
    const double a_p = prev_t >= 0 ? alphas_cumprod[prev_t] : final_alpha_cumprod;
    check_noisy_alpha(a_t, "t");
    check_clip(clip_sample, clip_range);
    const bool stochastic = eta > 0.0;
    if (stochastic) {
        require(prev_t < t, "eta > 0 needs prev_t < t (inversion is deterministic)");
        require(a_p >= a_t, "alphas_cumprod must not increase from prev_t to t");
        require(noise != nullptr, "ddim_step needs noise when eta > 0");
    }
    const double var = (1.0 - a_p) / (1.0 - a_t) * (1.0 - a_t / a_p);
    const double std_dev = stochastic ? eta * std::sqrt(var) : 0.0;
    const double ce = std::sqrt(std::max(0.0, 1.0 - a_p - std_dev * std_dev));
    const PredictionCoefs k = prediction_coefs(a_t, type);
    diffusion_update_loop(model_output, x_t, stochastic ? noise : nullptr, k, clip_sample, clip_range,
                          std::sqrt(a_p), 0.0, ce, std_dev, out, n);
}

void dpmpp_2m_step(const float* x, const float* x0_pred, const float* prev_x0_pred, int64_t n,
                   const int64_t* timesteps, int64_t n_steps, int64_t step_index, const double* alphas_cumprod,
                   int64_t n_train, double final_alpha_cumprod, bool lower_order_final, float* out) {
    check_alphas_cumprod(alphas_cumprod, n_train);
    require(n_steps >= 1, "timesteps must not be empty");
    require(step_index >= 0 && step_index < n_steps, "step_index = " + std::to_string(step_index) +
                                                         " is out of range [0, " + std::to_string(n_steps) + ")");
    for (int64_t j = 0; j < n_steps; ++j) {
        if (timesteps[j] < 0 || timesteps[j] >= n_train)
            fail("timestep " + std::to_string(timesteps[j]) + " is out of range [0, " + std::to_string(n_train) + ")");
        if (j > 0 && timesteps[j] >= timesteps[j - 1]) fail("timesteps must be strictly descending");
    }
    require(finite(final_alpha_cumprod) && final_alpha_cumprod > 0.0 && final_alpha_cumprod <= 1.0,
            "final_alpha_cumprod must lie in (0, 1]");
    require(prev_x0_pred == nullptr || step_index >= 1,
            "prev_x0_pred was given at step_index 0 (there is no previous step)");

    const double a_s = alphas_cumprod[timesteps[step_index]];
    check_noisy_alpha(a_s, "timesteps[step_index]");
    const bool last = step_index == n_steps - 1;
    const double a_t = last ? final_alpha_cumprod : alphas_cumprod[timesteps[step_index + 1]];
    const double alpha_s = std::sqrt(a_s), sigma_s = std::sqrt(1.0 - a_s);
    const double alpha_t = std::sqrt(a_t), sigma_t = std::sqrt(1.0 - a_t);

    const double cx = sigma_t / sigma_s;
    // alpha_t * (1 - exp(-h)) with exp(-h) = (sigma_t / alpha_t) / (sigma_s / alpha_s)
    const double c = alpha_t - cx * alpha_s;
    const bool first_order = prev_x0_pred == nullptr || sigma_t == 0.0 || (last && lower_order_final);
    if (first_order) {
        dpm_loop(x, x0_pred, nullptr, cx, c, 0.0, out, n);
        return;
    }
    const double a_r = alphas_cumprod[timesteps[step_index - 1]];
    check_noisy_alpha(a_r, "timesteps[step_index - 1]");
    auto lambda = [](double a) { return 0.5 * (std::log(a) - std::log1p(-a)); };
    const double h = lambda(a_t) - lambda(a_s), h0 = lambda(a_s) - lambda(a_r);
    require(h > 0.0 && h0 > 0.0,
            "DPM-Solver++(2M) needs alphas_cumprod strictly increasing along the sampling direction");
    const double r0 = h0 / h;
    // D0 = m0, D1 = (m0 - m1) / r0;  x = cx * x + c * D0 + 0.5 * c * D1
    const double c1 = 0.5 * c / r0;
    dpm_loop(x, x0_pred, prev_x0_pred, cx, c + c1, -c1, out, n);
}

}  // namespace voxlite
