// Python bindings of the flow-matching / diffusion solver kernels (csrc/solvers.h).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common.h"
#include "ndarray.h"
#include "registry.h"
#include "solvers.h"

using namespace nb::literals;
using voxlite::require;

namespace voxlite::bind {

namespace {

using F32 = In<float>;

std::vector<size_t> shape_vec(const F32& a) {
    std::vector<size_t> s(a.ndim());
    for (size_t i = 0; i < a.ndim(); ++i) s[i] = a.shape(i);
    return s;
}

std::string shape_str(const std::vector<size_t>& s) {
    std::string r = "(";
    for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + (s.size() == 1 ? ",)" : ")");
}

void same_shape(const F32& ref, const char* ref_name, const F32& a, const char* name) {
    const auto s0 = shape_vec(ref), s1 = shape_vec(a);
    require(s0 == s1, std::string(name) + " has shape " + shape_str(s1) + " but " + ref_name + " has shape " +
                          shape_str(s0));
}

int64_t numel(const F32& a) { return static_cast<int64_t>(a.size()); }

// The output buffer: `out` itself (a writable C-contiguous float32 array of the right shape) or a new array.
struct OutBuf {
    nb::object obj;
    float* data;
};

OutBuf output_like(nb::handle out, const F32& like) {
    const auto shape = shape_vec(like);
    nb::object obj;
    if (out.is_none()) {
        obj = nb::cast(new_array<float>(shape));
    } else {
        obj = nb::borrow(out);
    }
    InOut<float> view;
    require(nb::try_cast(obj, view, false), "out must be a writable C-contiguous float32 NumPy array");
    std::vector<size_t> s(view.ndim());
    for (size_t i = 0; i < view.ndim(); ++i) s[i] = view.shape(i);
    require(s == shape, "out has shape " + shape_str(s) + " but the result has shape " + shape_str(shape));
    return {obj, view.data()};
}

void check_schedule(const In<double>& a) {
    require(a.ndim() == 1, "alphas_cumprod must be 1-D");
}

}  // namespace

void register_solvers(nb::module_& m) {
    // ------------------------------------------------------------ flow matching
    m.def(
        "fm_timesteps",
        [](int64_t n_steps, double t_start, double t_end, const std::string& schedule, double sway_coef) {
            const TimeSchedule sch = parse_time_schedule(schedule);
            require(n_steps >= 1, "n_steps must be >= 1, got " + std::to_string(n_steps));
            auto out = new_array<double>({static_cast<size_t>(n_steps + 1)});
            double* p = out.data();
            {
                nb::gil_scoped_release release;
                fm_timesteps(n_steps, t_start, t_end, sch, sway_coef, p);
            }
            return out;
        },
        "n_steps"_a, "t_start"_a = 1.0, "t_end"_a = 0.0, "schedule"_a = "uniform", "sway_coef"_a = -1.0,
        "Flow-matching time grid, float64 (n_steps + 1,): linspace(t_start, t_end); schedule 'sway' maps each "
        "value t to t + sway_coef * (cos(pi/2 t) - 1 + t) (VoxCPM: t 1 -> 0, sway_coef 1.0; F5-TTS: t 0 -> 1, "
        "sway_coef -1.0).");

    m.def(
        "cfg_velocity",
        [](const F32& v_cond, const F32& v_uncond, double scale, const std::string& mode, nb::handle out) {
            const CfgMode md = parse_cfg_mode(mode);
            same_shape(v_cond, "v_cond", v_uncond, "v_uncond");
            require(v_cond.ndim() >= 1, "v_cond must have a leading batch dimension");
            OutBuf o = output_like(out, v_cond);
            const int64_t b = static_cast<int64_t>(v_cond.shape(0));
            const int64_t per = b > 0 ? numel(v_cond) / b : 0;
            {
                nb::gil_scoped_release release;
                cfg_velocity(v_cond.data(), v_uncond.data(), o.data, b, per, scale, md);
            }
            return o.obj;
        },
        "v_cond"_a, "v_uncond"_a, "scale"_a, "mode"_a = "standard", "out"_a = nb::none(),
        "Classifier-free guidance, float32 (B, ...). standard: u + scale * (c - u); zero_star (CFG-Zero*): per "
        "item b, st = <c_b, u_b> / (|u_b|^2 + 1e-8), out = u * st + scale * (c - u * st). Writes into `out` when "
        "given.");

    m.def(
        "euler_step",
        [](const F32& x, const F32& v, double dt, nb::handle out) {
            same_shape(x, "x", v, "v");
            OutBuf o = output_like(out, x);
            {
                nb::gil_scoped_release release;
                euler_step(x.data(), v.data(), dt, o.data, numel(x));
            }
            return o.obj;
        },
        "x"_a, "v"_a, "dt"_a, "out"_a = nb::none(), "Euler step, float32: x + dt * v (dt = t_next - t).");

    m.def(
        "heun_predict",
        [](const F32& x, const F32& v1, double dt, nb::handle out) {
            same_shape(x, "x", v1, "v1");
            OutBuf o = output_like(out, x);
            {
                nb::gil_scoped_release release;
                heun_predict(x.data(), v1.data(), dt, o.data, numel(x));
            }
            return o.obj;
        },
        "x"_a, "v1"_a, "dt"_a, "out"_a = nb::none(), "Heun predictor, float32: x + dt * v1 (evaluate v2 there at t + dt).");

    m.def(
        "heun_correct",
        [](const F32& x, const F32& v1, const F32& v2, double dt, nb::handle out) {
            same_shape(x, "x", v1, "v1");
            same_shape(x, "x", v2, "v2");
            OutBuf o = output_like(out, x);
            {
                nb::gil_scoped_release release;
                heun_correct(x.data(), v1.data(), v2.data(), dt, o.data, numel(x));
            }
            return o.obj;
        },
        "x"_a, "v1"_a, "v2"_a, "dt"_a, "out"_a = nb::none(), "Heun corrector, float32: x + dt / 2 * (v1 + v2).");

    m.def(
        "midpoint_predict",
        [](const F32& x, const F32& v1, double dt, nb::handle out) {
            same_shape(x, "x", v1, "v1");
            OutBuf o = output_like(out, x);
            {
                nb::gil_scoped_release release;
                midpoint_predict(x.data(), v1.data(), dt, o.data, numel(x));
            }
            return o.obj;
        },
        "x"_a, "v1"_a, "dt"_a, "out"_a = nb::none(),
        "Midpoint predictor, float32: x + dt / 2 * v1 (evaluate v2 there at t + dt / 2).");

    m.def(
        "midpoint_correct",
        [](const F32& x, const F32& v2, double dt, nb::handle out) {
            same_shape(x, "x", v2, "v2");
            OutBuf o = output_like(out, x);
            {
                nb::gil_scoped_release release;
                midpoint_correct(x.data(), v2.data(), dt, o.data, numel(x));
            }
            return o.obj;
        },
        "x"_a, "v2"_a, "dt"_a, "out"_a = nb::none(), "Midpoint corrector, float32: x + dt * v2.");

    // ------------------------------------------------------------ diffusion schedules
    m.def(
        "betas",
        [](int64_t n_train, const std::string& schedule, double beta_start, double beta_end) {
            const BetaSchedule sch = parse_beta_schedule(schedule);
            require(n_train >= 1, "n_train must be >= 1, got " + std::to_string(n_train));
            auto out = new_array<double>({static_cast<size_t>(n_train)});
            double* p = out.data();
            {
                nb::gil_scoped_release release;
                make_betas(n_train, sch, beta_start, beta_end, p);
            }
            return out;
        },
        "n_train"_a, "schedule"_a = "linear", "beta_start"_a = 1e-4, "beta_end"_a = 0.02,
        "Diffusion betas, float64 (n_train,): 'linear', 'scaled_linear' or 'squaredcos_cap_v2' (as diffusers, in "
        "double).");

    m.def(
        "alphas_cumprod",
        [](const In<double>& betas) {
            require(betas.ndim() == 1, "betas must be 1-D");
            auto out = new_array<double>({betas.shape(0)});
            double* p = out.data();
            {
                nb::gil_scoped_release release;
                alphas_cumprod(betas.data(), static_cast<int64_t>(betas.shape(0)), p);
            }
            return out;
        },
        "betas"_a, "Cumulative product of (1 - betas), float64 (n_train,); betas must lie in (0, 1).");

    m.def(
        "diffusion_timesteps",
        [](int64_t n_train, int64_t n_steps, const std::string& spacing, int64_t steps_offset,
           const std::string& variant) {
            const Spacing sp = parse_spacing(spacing);
            const TimestepVariant var = parse_timestep_variant(variant);
            require(n_steps >= 1, "n_steps must be >= 1, got " + std::to_string(n_steps));
            require(n_steps <= n_train, "n_steps (" + std::to_string(n_steps) + ") cannot exceed n_train (" +
                                            std::to_string(n_train) + ")");
            auto out = new_array<int64_t>({static_cast<size_t>(n_steps)});
            int64_t* p = out.data();
            {
                nb::gil_scoped_release release;
                diffusion_timesteps(n_train, n_steps, sp, steps_offset, var, p);
            }
            return out;
        },
        "n_train"_a, "n_steps"_a, "spacing"_a = "leading", "steps_offset"_a = 0, "variant"_a = "ddim",
        "Descending int64 timesteps (n_steps,) as diffusers' set_timesteps: variant 'ddim' (DDPMScheduler, "
        "DDIMScheduler) or 'dpmsolver' (DPMSolverMultistepScheduler).");

    // ------------------------------------------------------------ diffusion steps
    m.def(
        "convert_prediction",
        [](const F32& model_output, const F32& x_t, double alpha_bar_t, const std::string& prediction_type) {
            const PredictionType pt = parse_prediction_type(prediction_type);
            same_shape(x_t, "x_t", model_output, "model_output");
            OutBuf x0 = output_like(nb::none(), x_t), eps = output_like(nb::none(), x_t);
            {
                nb::gil_scoped_release release;
                convert_prediction(model_output.data(), x_t.data(), numel(x_t), alpha_bar_t, pt, x0.data, eps.data);
            }
            return std::make_pair(x0.obj, eps.obj);
        },
        "model_output"_a, "x_t"_a, "alpha_bar_t"_a, "prediction_type"_a = "epsilon",
        "(x0_pred, eps_pred), float32, from a model output at x_t with alpha_bar_t in (0, 1); prediction_type "
        "'epsilon', 'v_prediction' or 'sample'.");

    m.def(
        "ddpm_step",
        [](const F32& model_output, const F32& x_t, int64_t t, int64_t prev_t, const In<double>& alphas_cumprod,
           std::optional<F32> noise, const std::string& prediction_type, bool clip_sample, double clip_range,
           const std::string& variance, nb::handle out) {
            const PredictionType pt = parse_prediction_type(prediction_type);
            const DdpmVariance var = parse_ddpm_variance(variance);
            check_schedule(alphas_cumprod);
            same_shape(x_t, "x_t", model_output, "model_output");
            if (noise) same_shape(x_t, "x_t", *noise, "noise");
            OutBuf o = output_like(out, x_t);
            const float* nz = noise ? noise->data() : nullptr;
            {
                nb::gil_scoped_release release;
                ddpm_step(model_output.data(), x_t.data(), nz, numel(x_t), alphas_cumprod.data(),
                          static_cast<int64_t>(alphas_cumprod.shape(0)), t, prev_t, pt, clip_sample, clip_range, var,
                          o.data);
            }
            return o.obj;
        },
        "model_output"_a, "x_t"_a, "t"_a, "prev_t"_a, "alphas_cumprod"_a, "noise"_a = nb::none(),
        "prediction_type"_a = "epsilon", "clip_sample"_a = false, "clip_range"_a = 1.0,
        "variance"_a = "fixed_small", "out"_a = nb::none(),
        "DDPM ancestral step (diffusers DDPMScheduler.step), float32: posterior mean + sqrt(var) * noise; noise "
        "(float32, like x_t) is required when t > 0 and unused at t == 0. prev_t < 0 is the clean end.");

    m.def(
        "ddim_step",
        [](const F32& model_output, const F32& x_t, int64_t t, int64_t prev_t, const In<double>& alphas_cumprod,
           double eta, std::optional<F32> noise, const std::string& prediction_type, double final_alpha_cumprod,
           bool clip_sample, double clip_range, nb::handle out) {
            const PredictionType pt = parse_prediction_type(prediction_type);
            check_schedule(alphas_cumprod);
            same_shape(x_t, "x_t", model_output, "model_output");
            if (noise) same_shape(x_t, "x_t", *noise, "noise");
            OutBuf o = output_like(out, x_t);
            const float* nz = noise ? noise->data() : nullptr;
            {
                nb::gil_scoped_release release;
                ddim_step(model_output.data(), x_t.data(), nz, numel(x_t), alphas_cumprod.data(),
                          static_cast<int64_t>(alphas_cumprod.shape(0)), t, prev_t, pt, eta, final_alpha_cumprod,
                          clip_sample, clip_range, o.data);
            }
            return o.obj;
        },
        "model_output"_a, "x_t"_a, "t"_a, "prev_t"_a, "alphas_cumprod"_a, "eta"_a = 0.0, "noise"_a = nb::none(),
        "prediction_type"_a = "epsilon", "final_alpha_cumprod"_a = 1.0, "clip_sample"_a = false,
        "clip_range"_a = 1.0, "out"_a = nb::none(),
        "DDIM step (diffusers DDIMScheduler.step), float32. prev_t < 0 goes to final_alpha_cumprod (1.0, or "
        "alphas_cumprod[0] for set_alpha_to_one=False); eta > 0 needs noise; prev_t > t with eta 0 is DDIM "
        "inversion.");

    m.def(
        "dpmpp_2m_step",
        [](const F32& x, const F32& x0_pred, const In<int64_t>& timesteps, int64_t step_index,
           const In<double>& alphas_cumprod, std::optional<F32> prev_x0_pred, double final_alpha_cumprod,
           bool lower_order_final, nb::handle out) {
            check_schedule(alphas_cumprod);
            require(timesteps.ndim() == 1, "timesteps must be 1-D");
            same_shape(x, "x", x0_pred, "x0_pred");
            if (prev_x0_pred) same_shape(x, "x", *prev_x0_pred, "prev_x0_pred");
            OutBuf o = output_like(out, x);
            const float* prev = prev_x0_pred ? prev_x0_pred->data() : nullptr;
            {
                nb::gil_scoped_release release;
                dpmpp_2m_step(x.data(), x0_pred.data(), prev, numel(x), timesteps.data(),
                              static_cast<int64_t>(timesteps.shape(0)), step_index, alphas_cumprod.data(),
                              static_cast<int64_t>(alphas_cumprod.shape(0)), final_alpha_cumprod, lower_order_final,
                              o.data);
            }
            return o.obj;
        },
        "x"_a, "x0_pred"_a, "timesteps"_a, "step_index"_a, "alphas_cumprod"_a, "prev_x0_pred"_a = nb::none(),
        "final_alpha_cumprod"_a = 1.0, "lower_order_final"_a = true, "out"_a = nb::none(),
        "DPM-Solver++(2M) step (midpoint), float32, from timesteps[step_index] to the next timestep (or the clean "
        "end with final_alpha_cumprod after the last). x0_pred: data prediction now; prev_x0_pred: the one of the "
        "previous step (None -> first order).");
}

}  // namespace voxlite::bind
