// Per-element optimizer math shared by the CPU and CUDA update kernels (GROOVE_HD): SGD,
// heavy-ball and Nesterov momentum, Adam, AdamW, L2 weight decay, learning-rate schedules, and
// the parameter write for each precision mode (plain, Kahan-compensated).
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "runtime/hostdevice.h"

namespace groove {

enum class OptimizerKind : std::uint8_t { sgd, momentum, nesterov, adam, adamw };
inline constexpr int kNumOptimizerKinds = 5;
inline constexpr const char* kOptimizerNames[kNumOptimizerKinds] = {"sgd", "momentum", "nesterov", "adam", "adamw"};
static_assert(static_cast<int>(OptimizerKind::adamw) + 1 == kNumOptimizerKinds, "update kOptimizerNames");

// fp32: parameters and states in f32; fp32_kahan: f32 with a compensation buffer that carries
// the rounding error of every parameter write; fp64: everything in f64.
enum class Precision : std::uint8_t { fp32, fp32_kahan, fp64 };
inline constexpr int kNumPrecisions = 3;
inline constexpr const char* kPrecisionNames[kNumPrecisions] = {"fp32", "fp32-kahan", "fp64"};
static_assert(static_cast<int>(Precision::fp64) + 1 == kNumPrecisions, "update kPrecisionNames");

enum class ScheduleKind : std::uint8_t { constant, step, cosine };
inline constexpr int kNumScheduleKinds = 3;
inline constexpr const char* kScheduleNames[kNumScheduleKinds] = {"constant", "step", "cosine"};
static_assert(static_cast<int>(ScheduleKind::cosine) + 1 == kNumScheduleKinds, "update kScheduleNames");

// Learning rate at update t (0-based) = base lr * factor(t). With warm-up, the factor rises
// linearly from 1/warmup to 1 over the first `warmup_steps` updates, then the schedule runs on the
// steps after warm-up: step: gamma^(floor(t / step_size)); cosine: from 1 down to min_factor over
// total_steps - warmup_steps updates, then min_factor.
struct Schedule {
  ScheduleKind kind = ScheduleKind::constant;
  std::int64_t warmup_steps = 0;
  std::int64_t step_size = 1000;  // step
  double gamma = 0.1;             // step
  std::int64_t total_steps = 0;   // cosine
  double min_factor = 0.0;        // cosine
};

struct OptimizerHyper {
  OptimizerKind kind = OptimizerKind::sgd;
  double momentum = 0.9;                          // momentum, nesterov
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adam, adamw
  Schedule schedule;
};

namespace optim_math {

GROOVE_HD inline double schedule_factor(const Schedule& s, std::int64_t t) {
  if (t < s.warmup_steps) return static_cast<double>(t + 1) / static_cast<double>(s.warmup_steps);
  const std::int64_t u = t - s.warmup_steps;
  switch (s.kind) {
    case ScheduleKind::constant:
      return 1.0;
    case ScheduleKind::step:
      return pow(s.gamma, static_cast<double>(u / (s.step_size > 0 ? s.step_size : 1)));
    case ScheduleKind::cosine: {
      const std::int64_t span = s.total_steps - s.warmup_steps;
      if (span <= 0 || u >= span) return s.min_factor;
      const double c = 0.5 * (1.0 + cos(3.14159265358979323846 * static_cast<double>(u) / static_cast<double>(span)));
      return s.min_factor + (1.0 - s.min_factor) * c;
    }
  }
  return 1.0;
}

// Number of optimizer states per parameter.
GROOVE_HD constexpr int num_states(OptimizerKind k) {
  return k == OptimizerKind::sgd ? 0 : (k == OptimizerKind::momentum || k == OptimizerKind::nesterov) ? 1 : 2;
}

// Per-step constants of an update, the same for every element: Adam's bias corrections
// 1 - beta^t (1 for the other optimizers). Computed once per launch, not per element.
struct StepConstants {
  double bc1 = 1.0, bc2 = 1.0;
};
GROOVE_HD inline StepConstants step_constants(const OptimizerHyper& h, std::int64_t t) {
  StepConstants c;
  if (h.kind == OptimizerKind::adam || h.kind == OptimizerKind::adamw) {
    const double step = static_cast<double>(t + 1);
    c.bc1 = -expm1(step * log(h.beta1));  // 1 - beta1^t without cancellation
    c.bc2 = -expm1(step * log(h.beta2));
  }
  return c;
}

// Which state buffers an optimizer reads and writes.
GROOVE_HD constexpr bool uses_state1(OptimizerKind k) {
  return num_states(k) >= 1;
}
GROOVE_HD constexpr bool uses_state2(OptimizerKind k) {
  return num_states(k) >= 2;
}

// The change to add to parameter p with gradient g (computed in double), updating the states
// s1/s2 (momentum buffer, or Adam's first and second moments) in place. The optimizer is a
// template parameter, so a kernel's loop has no per-element branch on it (and vectorizes).
template <OptimizerKind K>
GROOVE_HD inline double update_delta(const OptimizerHyper& h, const StepConstants& c, double p, double g, double lr,
                                     double wd, double& s1, double& s2) {
  if constexpr (K == OptimizerKind::sgd) {
    return -lr * (g + wd * p);
  } else if constexpr (K == OptimizerKind::momentum) {
    s1 = h.momentum * s1 + (g + wd * p);
    return -lr * s1;
  } else if constexpr (K == OptimizerKind::nesterov) {
    const double gd = g + wd * p;
    s1 = h.momentum * s1 + gd;
    return -lr * (gd + h.momentum * s1);
  } else {
    const double gd = K == OptimizerKind::adam ? g + wd * p : g;  // adam: L2; adamw: decoupled
    s1 = h.beta1 * s1 + (1.0 - h.beta1) * gd;
    s2 = h.beta2 * s2 + (1.0 - h.beta2) * gd * gd;
    const double dir = (s1 / c.bc1) / (sqrt(s2 / c.bc2) + h.eps);
    return K == OptimizerKind::adam ? -lr * dir : -lr * (dir + wd * p);
  }
}

// Calls f(std::integral_constant<OptimizerKind, K>{}) for the runtime kind.
template <typename F>
inline decltype(auto) with_optimizer_kind(OptimizerKind k, F&& f) {
  switch (k) {
    case OptimizerKind::sgd:
      return f(std::integral_constant<OptimizerKind, OptimizerKind::sgd>{});
    case OptimizerKind::momentum:
      return f(std::integral_constant<OptimizerKind, OptimizerKind::momentum>{});
    case OptimizerKind::nesterov:
      return f(std::integral_constant<OptimizerKind, OptimizerKind::nesterov>{});
    case OptimizerKind::adam:
      return f(std::integral_constant<OptimizerKind, OptimizerKind::adam>{});
    case OptimizerKind::adamw:
      break;
  }
  return f(std::integral_constant<OptimizerKind, OptimizerKind::adamw>{});
}

// p += delta in the parameter's precision; with Kahan compensation the rounding error of every
// write is carried in c, so updates far below the parameter's ulp still accumulate.
template <typename T>
GROOVE_HD inline T apply_plain(T p, double delta) {
  return static_cast<T>(p + static_cast<T>(delta));
}
template <typename T>
GROOVE_HD inline T apply_kahan(T p, double delta, T& c) {
  const T y = static_cast<T>(delta) - c;
  const T t = p + y;
  c = (t - p) - y;
  return t;
}

}  // namespace optim_math
}  // namespace groove
