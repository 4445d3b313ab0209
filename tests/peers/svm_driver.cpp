// Peer-check driver for groove's linear SVM (ops::svm_dual_solve, metrics::svm_max_margin): builds
// a few separable binary problems, solves each with groove on the CPU, and writes DIR/NAME.npz for
// tests/peers/svm_peer.py to refit with scikit-learn's SVC:
//   x f64 [P, N], labels i32 [P] (0 / 1; class 1 is y = +1)
//   w f64 [N], b f64 [1]: groove's solution (op on the Gram matrix x x^T): f(x) = w . x + b
//   margin, min_distance, closest_1pct, closest_5pct f64 [1]: svm_max_margin of the K = 1 features
//   status i32 [1] (svm::Status of the op), iterations i32 [1]
//   ensemble_scales f64 [3], ensemble_margins f64 [3]: svm_max_margin of K = 3 models whose
//     features are s_k x + t_k (the margins must be s_k times the margin of x)
// Problems: random points pushed off a random hyperplane (2-D, 50-D, unbalanced classes), a wide
// set (N > P, random labels), the same set scaled and offset, and the hidden layer of a small
// random ReLU network labelled by a random linear teacher with a gap.
//
// Usage: svm_driver --out DIR     (prints the problem names it wrote)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "kernels/svm_ops.h"
#include "metrics/svm.h"
#include "runtime/npy.h"
#include "runtime/philox.h"

namespace {

using namespace groove;

// Uniform in (lo, hi) from Philox (seed, stream, i).
double uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t i, double lo, double hi) {
  const U32x4 w = philox_block(seed, stream, i);
  return lo + (hi - lo) * u01_f64(w.v[0], w.v[1]);
}

struct Problem {
  std::string name;
  std::int64_t P = 0, N = 0;
  std::vector<double> x;  // [P, N]
  std::vector<std::int32_t> labels;
};

// Points uniform in [-1, 1]^N, labels 1 with probability pos_fraction, each moved along a random
// unit normal u so that y (u . x + b0) = gap + |u . z + b0| (max margin >= gap).
Problem pushed(const std::string& name, std::int64_t P, std::int64_t N, double gap, double pos_fraction,
               std::uint64_t seed) {
  Problem p{name, P, N, std::vector<double>(P * N), std::vector<std::int32_t>(P)};
  std::vector<double> u(N);
  double un = 0;
  for (std::int64_t n = 0; n < N; ++n) {
    u[n] = uniform(seed, 1, n, -1, 1);
    un += u[n] * u[n];
  }
  for (double& v : u) v /= std::sqrt(un);
  const double b0 = uniform(seed, 2, 0, -0.1, 0.1);
  for (std::int64_t i = 0; i < P; ++i) {
    p.labels[i] = i == 0 ? 1 : i == 1 ? 0 : uniform(seed, 3, i, 0, 1) < pos_fraction ? 1 : 0;
    const double y = p.labels[i] == 1 ? 1.0 : -1.0;
    double s = b0;
    for (std::int64_t n = 0; n < N; ++n) {
      p.x[i * N + n] = uniform(seed, 4, i * N + n, -1, 1);
      s += u[n] * p.x[i * N + n];
    }
    const double shift = y * (gap + std::fabs(s)) - s;
    for (std::int64_t n = 0; n < N; ++n) p.x[i * N + n] += shift * u[n];
  }
  return p;
}

// N > P: random points with random labels are separable (almost surely).
Problem wide(const std::string& name, std::int64_t P, std::int64_t N, std::uint64_t seed) {
  Problem p{name, P, N, std::vector<double>(P * N), std::vector<std::int32_t>(P)};
  for (std::int64_t i = 0; i < P * N; ++i) p.x[i] = uniform(seed, 5, i, -1, 1);
  for (std::int64_t i = 0; i < P; ++i) p.labels[i] = uniform(seed, 6, i, 0, 1) < 0.5 ? 1 : 0;
  return p;
}

// x -> s x + t (t the same in every coordinate).
Problem affine(Problem p, const std::string& name, double s, double t) {
  p.name = name;
  for (double& v : p.x) v = s * v + t;
  return p;
}

// h = relu(W x + c) of a random 1-hidden-layer network (inputs [-1, 1]^D, W ~ U(-1, 1) / sqrt(D)),
// labelled by a random teacher v . h + c0 (c0: minus the median score); examples whose score lies
// within gap * ||v|| of the threshold are dropped, so the max margin is >= gap.
Problem relu_hidden(const std::string& name, std::int64_t P, std::int64_t D, std::int64_t H, double gap,
                    std::uint64_t seed) {
  std::vector<double> W(H * D), c(H), v(H);
  for (std::int64_t i = 0; i < H * D; ++i) W[i] = uniform(seed, 7, i, -1, 1) / std::sqrt(double(D));
  for (std::int64_t h = 0; h < H; ++h) {
    c[h] = uniform(seed, 8, h, -0.5, 0.5);
    v[h] = uniform(seed, 9, h, -1, 1);
  }
  double vn = 0;
  for (double a : v) vn += a * a;
  vn = std::sqrt(vn);
  std::vector<double> pool_h, score;
  const std::int64_t pool = 4 * P;
  for (std::int64_t i = 0; i < pool; ++i) {
    double sc = 0;
    for (std::int64_t h = 0; h < H; ++h) {
      double a = c[h];
      for (std::int64_t d = 0; d < D; ++d) a += W[h * D + d] * uniform(seed, 10, i * D + d, -1, 1);
      a = std::max(a, 0.0);
      pool_h.push_back(a);
      sc += v[h] * a;
    }
    score.push_back(sc);
  }
  std::vector<double> sorted = score;
  std::nth_element(sorted.begin(), sorted.begin() + pool / 2, sorted.end());
  const double c0 = -sorted[pool / 2];
  Problem p{name, 0, H, {}, {}};
  for (std::int64_t i = 0; i < pool && p.P < P; ++i) {
    const double s = score[i] + c0;
    if (std::fabs(s) < gap * vn) continue;
    p.x.insert(p.x.end(), pool_h.begin() + i * H, pool_h.begin() + (i + 1) * H);
    p.labels.push_back(s > 0 ? 1 : 0);
    ++p.P;
  }
  return p;
}

Tensor scalar(double v) {
  return Tensor::from_vector<double>({1}, {v});
}

void write_problem(const Problem& p, const std::string& dir) {
  Context ctx;
  const std::int64_t P = p.P, N = p.N;
  const Tensor x = Tensor::from_vector<double>({P, N}, p.x);
  const Tensor labels = Tensor::from_vector<std::int32_t>({P}, p.labels);
  // The op on the (uncentered) Gram matrix.
  Tensor gram = Tensor::empty({1, P, P}, DType::f64, ctx);
  ops::GemmOptions go;
  go.trans_b = true;
  go.algo = ops::GemmAlgo::handwritten;
  ops::gemm(gram, x.reshape({1, P, N}), x.reshape({1, P, N}), go, ctx);
  std::vector<double> yv(P);
  for (std::int64_t i = 0; i < P; ++i) yv[i] = p.labels[i] == 1 ? 1.0 : -1.0;
  const Tensor y = Tensor::from_vector<double>({P}, yv);
  Tensor alpha = Tensor::empty({1, P}, DType::f64, ctx), bias = Tensor::empty({1}, DType::f64, ctx);
  Tensor info = Tensor::empty({1, 2}, DType::i32, ctx), summary;
  ops::SvmSolveOptions so;
  so.resolution = 1e-4;
  ops::svm_dual_solve(alpha, bias, info, summary, gram, y, so, ctx);
  std::vector<double> w(N, 0.0);
  for (std::int64_t i = 0; i < P; ++i) {
    for (std::int64_t n = 0; n < N; ++n) w[n] += alpha.flat<double>(i) * yv[i] * p.x[i * N + n];
  }
  // The statistic, K = 1 and a K = 3 ensemble of affine copies.
  const metrics::SvmStats st = metrics::svm_max_margin(x.reshape({1, P, N}), labels, 2, {}, ctx);
  const std::vector<double> scales = {1.0, 2.5, 0.125}, shifts = {0.0, -3.0, 7.0};
  std::vector<double> ens;
  for (int k = 0; k < 3; ++k) {
    for (double v : p.x) ens.push_back(scales[k] * v + shifts[k]);
  }
  const metrics::SvmStats se = metrics::svm_max_margin(Tensor::from_vector<double>({3, P, N}, ens), labels, 2, {}, ctx);
  write_npz(dir + "/" + p.name + ".npz",
            {{"x", x},
             {"labels", labels},
             {"w", Tensor::from_vector<double>({N}, w)},
             {"b", scalar(bias.flat<double>(0))},
             {"status", Tensor::from_vector<std::int32_t>({1}, {info.flat<std::int32_t>(1)})},
             {"iterations", Tensor::from_vector<std::int32_t>({1}, {info.flat<std::int32_t>(0)})},
             {"margin", scalar(st.margin[0])},
             {"min_distance", scalar(st.min_distance[0])},
             {"closest_1pct", scalar(st.closest_1pct[0])},
             {"closest_5pct", scalar(st.closest_5pct[0])},
             {"ensemble_scales", Tensor::from_vector<double>({3}, scales)},
             {"ensemble_margins", Tensor::from_vector<double>({3}, se.margin)}});
  std::printf("%s P=%lld N=%lld status=%d iterations=%d margin=%.9g\n", p.name.c_str(), static_cast<long long>(P),
              static_cast<long long>(N), info.flat<std::int32_t>(1), info.flat<std::int32_t>(0), st.margin[0]);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string dir;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--out" && i + 1 < argc) {
        dir = argv[++i];
      } else {
        std::fprintf(stderr, "usage: svm_driver --out DIR\n");
        return 2;
      }
    }
    if (dir.empty()) {
      std::fprintf(stderr, "usage: svm_driver --out DIR\n");
      return 2;
    }
    std::filesystem::create_directories(dir);
    const Problem r50 = pushed("random_50d", 300, 50, 0.02, 0.5, 2);
    const std::vector<Problem> problems = {
        pushed("plane_2d_unbalanced", 40, 2, 0.1, 0.25, 1),
        r50,
        pushed("random_10d_rare_positives", 250, 10, 0.05, 0.08, 3),
        wide("wide_random_labels", 120, 200, 4),
        affine(r50, "random_50d_scaled_offset", 1e3, 50.0),
        relu_hidden("relu_hidden_64", 400, 10, 64, 0.02, 5),
    };
    for (const Problem& p : problems) write_problem(p, dir);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "svm_driver: %s\n", e.what());
    return 1;
  }
}
