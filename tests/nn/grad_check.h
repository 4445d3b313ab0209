// Central-difference gradient checks in double for graphs recorded on a Tape: every element of
// every parameter of a ParamStore (f64, CPU) is perturbed by +-h, the recorded forward is replayed,
// and d(sum_k loss_k)/d(param) is compared with the tape's gradient.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "nn/params.h"

namespace groove::test {

inline double sum_of(const Tensor& t) {
  double s = 0;
  for (std::int64_t i = 0; i < t.numel(); ++i) s += t.flat<double>(i);
  return s;
}

// `build` records the graph on the tape and returns the [K] loss variable.
inline void expect_gradients_match(nn::ParamStore& ps, const std::function<Var(Tape&)>& build, double h = 1e-6,
                                   double atol = 1e-8, double rtol = 1e-6) {
  ASSERT_EQ(ps.dtype(), DType::f64);
  ASSERT_TRUE(ps.context().is_cpu());
  Tape tape(ps.context());
  const Var loss = build(tape);
  tape.backward(loss);
  for (int p = 0; p < ps.size(); ++p) {
    const Tensor grad = ps.grad(p).to_host();
    Tensor value = ps.value(p);
    double worst = 0;
    std::int64_t worst_at = -1;
    for (std::int64_t i = 0; i < value.numel(); ++i) {
      const double orig = value.flat<double>(i);
      value.flat<double>(i) = orig + h;
      tape.forward_replay();
      const double up = sum_of(tape.value(loss));
      value.flat<double>(i) = orig - h;
      tape.forward_replay();
      const double down = sum_of(tape.value(loss));
      value.flat<double>(i) = orig;
      const double numeric = (up - down) / (2 * h), analytic = grad.flat<double>(i);
      const double excess = std::fabs(numeric - analytic) / (atol + rtol * std::fabs(numeric));
      if (excess > worst) {
        worst = excess;
        worst_at = i;
      }
      EXPECT_LE(std::fabs(numeric - analytic), atol + rtol * std::fabs(numeric))
          << "parameter '" << ps.name(p) << "' element " << i << ": analytic " << analytic << ", numeric " << numeric;
    }
    tape.forward_replay();
    if (worst > 1) ADD_FAILURE() << "worst element of '" << ps.name(p) << "': " << worst_at;
  }
}

// Fills every parameter with N(0, stddev^2) values from Philox.
inline void randomize(nn::ParamStore& ps, std::uint64_t seed, double stddev = 1.0) {
  Tensor flat = ps.flat_values();
  ops::random_normal(flat, RngKey{seed, 77, 0}, 0.0, stddev, ps.context());
}

}  // namespace groove::test
