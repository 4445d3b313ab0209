// Random decoding problems for the tests of ops::fit_linear_decoders (test_decode.cpp,
// test_decode_cuda.cpp): S sessions of T trials and up to F features, K models that cycle over the
// sessions, 5 cross-validation folds (train weight 0 on the held-out fifth) and label
// permutations. Responses are never-zero uniforms plus a class-dependent shift along a random
// direction per session; padding features hold large values (any leak would show), and labels of
// held-out trials are invalid (7: they must never be read).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/decode_ops.h"
#include "runtime/philox.h"
#include "runtime/tensor.h"
#include "tests/common/test_util.h"

namespace groove::test {

enum class TrainWeights { binary, integer, fractional };

struct DecodeProblem {
  std::int64_t S = 0, T = 0, F = 0, K = 0;
  Tensor x, features, session, train, labels;  // host tensors
};

inline double decode_uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t i) {
  const U32x4 w = philox_block(seed, stream, i);
  return u01_f64(w.v[0], w.v[1]);
}

// shift: the class separation along the session's unit direction.
inline DecodeProblem make_decode_problem(std::int64_t S, std::int64_t T, std::int64_t F, std::int64_t K,
                                         std::uint64_t seed, TrainWeights weights = TrainWeights::binary,
                                         double shift = 0.6) {
  DecodeProblem p;
  p.S = S;
  p.T = T;
  p.F = F;
  p.K = K;
  p.x = random_tensor({S, T, F}, DType::f64, seed);
  p.features = Tensor::host({S}, DType::i32);
  p.session = Tensor::host({K}, DType::i32);
  p.train = Tensor::host({K, T}, DType::f64);
  p.labels = Tensor::host({K, T}, DType::i32);
  std::vector<std::int32_t> base(static_cast<std::size_t>(S * T));
  for (std::int64_t s = 0; s < S; ++s) {
    const std::int64_t f = std::max<std::int64_t>(1, F - s % 3);
    p.features.flat<std::int32_t>(s) = static_cast<std::int32_t>(f);
    std::vector<double> dir(static_cast<std::size_t>(f));
    double norm = 0;
    for (std::int64_t j = 0; j < f; ++j) {
      dir[j] = decode_uniform(seed, 1, s * F + j) - 0.5;
      norm += dir[j] * dir[j];
    }
    for (double& d : dir) d /= std::sqrt(norm);
    const double pos = 0.3 + 0.4 * decode_uniform(seed, 2, s);  // class balance of the session
    for (std::int64_t t = 0; t < T; ++t) {
      const std::int32_t y = t < 2 ? std::int32_t(t) : (decode_uniform(seed, 3, s * T + t) < pos ? 1 : 0);
      base[s * T + t] = y;
      double* row = p.x.data<double>() + (s * T + t) * F;
      for (std::int64_t j = 0; j < f; ++j) row[j] += (y == 1 ? shift : -shift) * dir[j] + 0.3 * j / F;
      for (std::int64_t j = f; j < F; ++j) row[j] = 1e3 * row[j];  // padding
    }
  }
  for (std::int64_t k = 0; k < K; ++k) {
    const std::int64_t s = k % S, fold = (k / S) % 5, perm = k / (5 * S);
    p.session.flat<std::int32_t>(k) = static_cast<std::int32_t>(s);
    for (std::int64_t t = 0; t < T; ++t) {
      double w = 1.0;
      if (weights == TrainWeights::integer) w = 1.0 + std::floor(3.0 * decode_uniform(seed, 4, k * T + t));
      if (weights == TrainWeights::fractional) w = 0.25 + 2.0 * decode_uniform(seed, 4, k * T + t);
      const bool held_out = t % 5 == fold && t >= 4;  // trials 0..3 always train: both classes present
      p.train.flat<double>(k * T + t) = held_out ? 0.0 : w;
      std::int32_t y = base[s * T + t];
      if (perm > 0 && t >= 2) y = decode_uniform(seed + perm, 5, s * T + t) < 0.5 ? 1 : 0;
      p.labels.flat<std::int32_t>(k * T + t) = held_out ? 7 : y;
    }
  }
  return p;
}

struct DecodeResult {
  Tensor weights, scores, info;  // host
};

inline DecodeResult run_decoders(const DecodeProblem& p, const ops::DecoderSpec& spec, Context& ctx) {
  Tensor w = Tensor::empty({p.K, p.F + 1}, DType::f64, ctx);
  Tensor sc = Tensor::empty({p.K, p.T}, DType::f64, ctx);
  Tensor info = Tensor::empty({p.K}, DType::i32, ctx);
  ops::fit_linear_decoders(w, sc, info, p.x.to(ctx), p.features.to(ctx), p.session.to(ctx), p.train.to(ctx),
                           p.labels.to(ctx), spec, ctx);
  return {w.to_host(), sc.to_host(), info.to_host()};
}

}  // namespace groove::test
