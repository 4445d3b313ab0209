// Peer-check driver for groove's batched binary linear decoders (ops::fit_linear_decoders): builds a
// few decoding problems, fits every decoder setting on the CPU with all problems batched in one call
// per setting (each problem is a session of a padded [S, T, F] tensor, with large values in the
// padding), and writes DIR/NAME.npz per problem for tests/peers/decode_peer.py to refit with
// scikit-learn:
//   x f64 [T, f] (the problem's trials and features), train f64 [T] (weights: 0 = held out),
//   labels i32 [T] (0 / 1, every trial)
//   kind i32 [D] (0 lda, 1 svm, 2 logistic), param f64 [D] (lda: shrinkage; svm, logistic: C)
//   weights f64 [D, f + 1] (w then b), scores f64 [D, T], info i32 [D]: groove's results per setting
// Problems: different f, T and class balance, 0/1 weights (cross-validation folds), integer
// weights (repetition counts), separable classes, features of different scales.
//
// Usage: decode_driver --out DIR     (prints the problem names it wrote)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "kernels/decode_ops.h"
#include "runtime/npy.h"
#include "runtime/philox.h"

namespace {

using namespace groove;

double uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t i) {
  const U32x4 w = philox_block(seed, stream, i);
  return u01_f64(w.v[0], w.v[1]);
}

double normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t i) {
  const double u1 = uniform(seed, stream, 2 * i), u2 = uniform(seed, stream, 2 * i + 1);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

struct Problem {
  std::string name;
  std::int64_t T = 0, f = 0;
  std::vector<double> x;  // [T, f]
  std::vector<double> train;
  std::vector<std::int32_t> labels;
};

// Gaussian classes: x = noise * scale_j + (y ? +1 : -1) * separation * u / 2 (u a random unit
// vector), labels 1 with probability pos; weights: 0 on the held-out fifth (t % 5 == 0), else 1,
// or 1 + floor(3 U) when integer_weights (then also some 0).
Problem gaussian(const std::string& name, std::int64_t T, std::int64_t f, double pos, double separation,
                 bool integer_weights, double scale_spread, std::uint64_t seed) {
  Problem p{name, T, f, std::vector<double>(T * f), std::vector<double>(T), std::vector<std::int32_t>(T)};
  std::vector<double> u(f), scale(f);
  double un = 0;
  for (std::int64_t j = 0; j < f; ++j) {
    u[j] = normal(seed, 1, j);
    un += u[j] * u[j];
    scale[j] = std::pow(scale_spread, uniform(seed, 2, j) - 0.5);
  }
  for (std::int64_t t = 0; t < T; ++t) {
    p.labels[t] = t < 2 ? std::int32_t(t) : (uniform(seed, 3, t) < pos ? 1 : 0);
    const double sign = p.labels[t] == 1 ? 0.5 : -0.5;
    for (std::int64_t j = 0; j < f; ++j) {
      p.x[t * f + j] = (normal(seed, 4, t * f + j) + sign * separation * u[j] / std::sqrt(un)) * scale[j] + 0.1 * j;
    }
    if (integer_weights) {
      p.train[t] = t < 2 ? 1.0 : std::floor(4.0 * uniform(seed, 5, t));  // 0..3
    } else {
      p.train[t] = (t % 5 == 0 && t >= 2) ? 0.0 : 1.0;
    }
  }
  return p;
}

struct Setting {
  ops::DecoderKind kind;
  double param;
};

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string dir;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--out" && i + 1 < argc) {
        dir = argv[++i];
      } else {
        std::fprintf(stderr, "usage: decode_driver --out DIR\n");
        return 2;
      }
    }
    if (dir.empty()) {
      std::fprintf(stderr, "usage: decode_driver --out DIR\n");
      return 2;
    }
    std::filesystem::create_directories(dir);
    const std::vector<Problem> problems = {
        gaussian("balanced_f5_t120", 120, 5, 0.5, 1.0, false, 1.0, 1),
        gaussian("unbalanced_f20_t250", 250, 20, 0.2, 1.5, false, 1.0, 2),
        gaussian("small_f2_t40", 40, 2, 0.5, 1.0, false, 1.0, 3),
        gaussian("separable_f12_t300", 300, 12, 0.4, 8.0, false, 1.0, 4),
        gaussian("integer_weights_f8_t150", 150, 8, 0.6, 1.2, true, 1.0, 5),
        gaussian("scales_f10_t200", 200, 10, 0.45, 1.5, false, 30.0, 6),
        gaussian("overlapping_f16_t180", 180, 16, 0.5, 0.3, false, 1.0, 7),
    };
    const std::vector<Setting> settings = {
        {ops::DecoderKind::lda, 0.0},       {ops::DecoderKind::lda, 0.1},      {ops::DecoderKind::lda, 0.6},
        {ops::DecoderKind::svm, 0.01},      {ops::DecoderKind::svm, 1.0},      {ops::DecoderKind::svm, 10.0},
        {ops::DecoderKind::logistic, 0.01}, {ops::DecoderKind::logistic, 1.0}, {ops::DecoderKind::logistic, 100.0},
    };
    // One padded batch: session s = problem s; padding trials (train 0) and features hold 1e6.
    const std::int64_t S = static_cast<std::int64_t>(problems.size()), D = static_cast<std::int64_t>(settings.size());
    std::int64_t T = 0, F = 0;
    for (const Problem& p : problems) {
      T = std::max(T, p.T);
      F = std::max(F, p.f);
    }
    Tensor x = Tensor::host({S, T, F}, DType::f64), features = Tensor::host({S}, DType::i32);
    Tensor session = Tensor::host({S}, DType::i32), train = Tensor::host_zeros({S, T}, DType::f64);
    Tensor labels = Tensor::host({S, T}, DType::i32);
    for (std::int64_t s = 0; s < S; ++s) {
      const Problem& p = problems[s];
      features.flat<std::int32_t>(s) = static_cast<std::int32_t>(p.f);
      session.flat<std::int32_t>(s) = static_cast<std::int32_t>(s);
      for (std::int64_t t = 0; t < T; ++t) {
        for (std::int64_t j = 0; j < F; ++j) {
          x.flat<double>((s * T + t) * F + j) = t < p.T && j < p.f ? p.x[t * p.f + j] : 1e6;
        }
        if (t < p.T) train.flat<double>(s * T + t) = p.train[t];
        labels.flat<std::int32_t>(s * T + t) = t < p.T && p.train[t] > 0 ? p.labels[t] : 5;
      }
    }
    Context ctx;
    std::vector<Tensor> weights, scores, info;
    for (const Setting& st : settings) {
      ops::DecoderSpec spec;
      spec.kind = st.kind;
      if (st.kind == ops::DecoderKind::lda) {
        spec.shrinkage = st.param;
      } else {
        spec.c = st.param;
        spec.tol = 1e-12;
        spec.max_iter = 200;
      }
      weights.push_back(Tensor::empty({S, F + 1}, DType::f64, ctx));
      scores.push_back(Tensor::empty({S, T}, DType::f64, ctx));
      info.push_back(Tensor::empty({S}, DType::i32, ctx));
      ops::fit_linear_decoders(weights.back(), scores.back(), info.back(), x, features, session, train, labels, spec,
                               ctx);
    }
    for (std::int64_t s = 0; s < S; ++s) {
      const Problem& p = problems[s];
      const std::int64_t f = p.f;
      std::vector<std::int32_t> kind(D), inf(D);
      std::vector<double> param(D), w(D * (f + 1)), sc(D * p.T);
      for (std::int64_t d = 0; d < D; ++d) {
        kind[d] = static_cast<std::int32_t>(settings[d].kind);
        param[d] = settings[d].param;
        inf[d] = info[d].flat<std::int32_t>(s);
        for (std::int64_t j = 0; j < f; ++j) w[d * (f + 1) + j] = weights[d].flat<double>(s * (F + 1) + j);
        w[d * (f + 1) + f] = weights[d].flat<double>(s * (F + 1) + F);
        for (std::int64_t t = 0; t < p.T; ++t) sc[d * p.T + t] = scores[d].flat<double>(s * T + t);
      }
      write_npz(dir + "/" + p.name + ".npz", {{"x", Tensor::from_vector<double>({p.T, f}, p.x)},
                                              {"train", Tensor::from_vector<double>({p.T}, p.train)},
                                              {"labels", Tensor::from_vector<std::int32_t>({p.T}, p.labels)},
                                              {"kind", Tensor::from_vector<std::int32_t>({D}, kind)},
                                              {"param", Tensor::from_vector<double>({D}, param)},
                                              {"weights", Tensor::from_vector<double>({D, f + 1}, w)},
                                              {"scores", Tensor::from_vector<double>({D, p.T}, sc)},
                                              {"info", Tensor::from_vector<std::int32_t>({D}, inf)}});
      std::printf("%s T=%lld f=%lld info", p.name.c_str(), static_cast<long long>(p.T), static_cast<long long>(f));
      for (std::int32_t v : inf) std::printf(" %d", v);
      std::printf("\n");
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "decode_driver: %s\n", e.what());
    return 1;
  }
}
