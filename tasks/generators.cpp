// Synthetic tasks: teacher-student, linearly separable, Gaussian clusters, deep-linear,
// modular addition, sparse parity; and the host-side Philox sampler they share.
#include "tasks/generators.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "runtime/philox.h"

namespace groove::tasks {

// ---------------------------------------------------------------------------------------------
// HostRng

std::uint32_t HostRng::next_u32() {
  if (used_ == 4) {
    const U32x4 w = philox_block(seed_, stream_, block_++);
    for (int i = 0; i < 4; ++i) words_[i] = w.v[i];
    used_ = 0;
  }
  return words_[used_++];
}

double HostRng::uniform() {
  const std::uint32_t hi = next_u32();
  return u01_f64(hi, next_u32());
}

double HostRng::normal() {
  if (have_spare_) {
    have_spare_ = false;
    return spare_;
  }
  U32x4 w;
  for (auto& v : w.v) v = next_u32();
  double z0, z1;
  normal_pair(w, z0, z1);
  spare_ = z1;
  have_spare_ = true;
  return z0;
}

std::int64_t HostRng::below(std::int64_t n) {
  GROOVE_ASSERT(n > 0, "HostRng::below(", n, ")");
  const auto un = static_cast<std::uint64_t>(n);
  const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % un;
  for (;;) {
    const std::uint64_t hi = next_u32();
    const std::uint64_t r = (hi << 32) | next_u32();
    if (r < limit) return static_cast<std::int64_t>(r % un);
  }
}

std::vector<std::int32_t> HostRng::sample(std::vector<std::int32_t> pool, std::int64_t count) {
  GROOVE_CHECK(count >= 0 && count <= static_cast<std::int64_t>(pool.size()), "cannot draw ", count,
               " distinct values from ", pool.size());
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t j = i + below(static_cast<std::int64_t>(pool.size()) - i);
    std::swap(pool[static_cast<std::size_t>(i)], pool[static_cast<std::size_t>(j)]);
  }
  pool.resize(static_cast<std::size_t>(count));
  return pool;
}

// ---------------------------------------------------------------------------------------------
// helpers

namespace {
// Streams of one generator's seed, one per kind of draw, so adding a draw never shifts another.
enum Stream : std::uint64_t { kInputs = 1, kTeacher, kDirection, kLabels, kNoise, kSplit, kCenters, kModes };

void set(Tensor& t, std::int64_t i, double v) {
  if (t.dtype() == DType::f32) t.flat<float>(i) = static_cast<float>(v);
  else t.flat<double>(i) = v;
}

std::vector<std::int32_t> range(std::int64_t begin, std::int64_t end) {
  std::vector<std::int32_t> v(static_cast<std::size_t>(end - begin));
  std::iota(v.begin(), v.end(), static_cast<std::int32_t>(begin));
  return v;
}

// Orthonormalizes the columns of a [rows, cols] row-major matrix (modified Gram-Schmidt, double).
void orthonormalize_columns(std::vector<double>& a, std::int64_t rows, std::int64_t cols) {
  for (std::int64_t j = 0; j < cols; ++j) {
    for (std::int64_t i = 0; i < j; ++i) {
      double dot = 0;
      for (std::int64_t r = 0; r < rows; ++r) dot += a[static_cast<std::size_t>(r * cols + i)] * a[static_cast<std::size_t>(r * cols + j)];
      for (std::int64_t r = 0; r < rows; ++r) a[static_cast<std::size_t>(r * cols + j)] -= dot * a[static_cast<std::size_t>(r * cols + i)];
    }
    double norm = 0;
    for (std::int64_t r = 0; r < rows; ++r) norm += a[static_cast<std::size_t>(r * cols + j)] * a[static_cast<std::size_t>(r * cols + j)];
    norm = std::sqrt(norm);
    GROOVE_ASSERT(norm > 1e-12, "degenerate random matrix in Gram-Schmidt");
    for (std::int64_t r = 0; r < rows; ++r) a[static_cast<std::size_t>(r * cols + j)] /= norm;
  }
}

std::vector<double> gaussian_matrix(HostRng& rng, std::int64_t rows, std::int64_t cols, double stddev) {
  std::vector<double> m(static_cast<std::size_t>(rows * cols));
  for (double& v : m) v = stddev * rng.normal();
  return m;
}

Tensor to_tensor(const std::vector<double>& v, const Shape& shape, DType dtype) {
  Tensor t = Tensor::host(shape, dtype);
  for (std::size_t i = 0; i < v.size(); ++i) set(t, static_cast<std::int64_t>(i), v[i]);
  return t;
}

Dataset finish(Dataset d, Context& ctx) {
  d.validate(d.task);
  return d.to(ctx);
}

void check_positive(std::int64_t v, const char* task, const char* name) {
  GROOVE_CHECK(v >= 1, task, ": ", name, " must be >= 1, got ", v);
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// Teacher-student: a random two-layer teacher f*(x) = sum_j a_j phi(w_j . x), w_j ~ N(0, I/d),
// a_j ~ N(0, 1/h), labels Gaussian inputs x ~ N(0, I).

Dataset make_teacher_student(const TeacherStudentSpec& s, Context& ctx) {
  const char* task = "teacher_student";
  check_positive(s.input_dim, task, "input_dim");
  check_positive(s.teacher_width, task, "teacher_width");
  check_positive(s.train, task, "train");
  GROOVE_CHECK(s.test >= 0 && s.noise >= 0, task, ": test and noise must be >= 0");
  const std::int64_t n = s.train + s.test, d = s.input_dim, h = s.teacher_width;
  HostRng inputs(s.seed, kInputs), teacher(s.seed, kTeacher), noise(s.seed, kNoise);
  const std::vector<double> x = gaussian_matrix(inputs, n, d, 1.0);
  const std::vector<double> w = gaussian_matrix(teacher, h, d, 1.0 / std::sqrt(double(d)));
  const std::vector<double> a = gaussian_matrix(teacher, h, 1, 1.0 / std::sqrt(double(h)));
  std::vector<double> f(static_cast<std::size_t>(n), 0.0);
  math::with_activation(s.activation, [&](auto act) {
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t j = 0; j < h; ++j) {
        double pre = 0;
        for (std::int64_t k = 0; k < d; ++k) pre += w[static_cast<std::size_t>(j * d + k)] * x[static_cast<std::size_t>(i * d + k)];
        f[static_cast<std::size_t>(i)] += a[static_cast<std::size_t>(j)] * math::activation_forward<decltype(act)::value>(pre, 0.01);
      }
    }
  });
  Dataset ds;
  ds.task = task;
  ds.x = to_tensor(x, {n, d}, s.dtype);
  if (s.classification) {
    ds.y = Tensor::host({n}, DType::i32);
    for (std::int64_t i = 0; i < n; ++i) ds.y.flat<std::int32_t>(i) = f[static_cast<std::size_t>(i)] > 0 ? 1 : 0;
    ds.num_classes = 2;
  } else {
    std::vector<double> t = f;
    for (double& v : t) v += s.noise * noise.normal();
    ds.targets = to_tensor(t, {n, 1}, s.dtype);
  }
  ds.groups = {{"train", range(0, s.train)}};
  if (s.test > 0) ds.groups.push_back({"test", range(s.train, n)});
  ds.truth["teacher.w"] = to_tensor(w, {h, d}, DType::f64);
  ds.truth["teacher.a"] = to_tensor(a, {h}, DType::f64);
  ds.truth["teacher.f"] = to_tensor(f, {n}, DType::f64);
  return finish(std::move(ds), ctx);
}

// ---------------------------------------------------------------------------------------------
// Linearly separable data whose homogeneous max-margin direction is w* with margin gamma: two
// support vectors +-gamma w* (so w* / gamma is the minimum-norm separator), every other point
// x = z + y (gamma + e) w* with z orthogonal to w* and e > 0.

Dataset make_separable(const SeparableSpec& s, Context& ctx) {
  const char* task = "separable";
  check_positive(s.dim, task, "dim");
  GROOVE_CHECK(s.train >= 2, task, ": train must be >= 2 (the two support vectors), got ", s.train);
  GROOVE_CHECK(s.margin > 0 && s.spread > 0 && s.test >= 0, task, ": margin and spread must be > 0");
  const std::int64_t n = s.train + s.test, d = s.dim;
  HostRng dir(s.seed, kDirection), inputs(s.seed, kInputs), labels(s.seed, kLabels);
  std::vector<double> w = gaussian_matrix(dir, d, 1, 1.0);
  orthonormalize_columns(w, d, 1);
  std::vector<double> x(static_cast<std::size_t>(n * d));
  Tensor y = Tensor::host({n}, DType::i32);
  for (std::int64_t i = 0; i < n; ++i) {
    double* row = &x[static_cast<std::size_t>(i * d)];
    int label;
    double along;
    if (i < 2) {  // the support vectors
      label = i == 0 ? 1 : 0;
      along = s.margin;
      for (std::int64_t k = 0; k < d; ++k) row[k] = 0;
    } else {
      label = labels.uniform() < 0.5 ? 1 : 0;
      along = s.margin + s.spread * std::fabs(inputs.normal()) + 1e-3 * s.margin;
      double dot = 0;
      for (std::int64_t k = 0; k < d; ++k) {
        row[k] = s.spread * inputs.normal();
        dot += row[k] * w[static_cast<std::size_t>(k)];
      }
      for (std::int64_t k = 0; k < d; ++k) row[k] -= dot * w[static_cast<std::size_t>(k)];  // orthogonal part
    }
    const double sign = label ? 1.0 : -1.0;
    for (std::int64_t k = 0; k < d; ++k) row[k] += sign * along * w[static_cast<std::size_t>(k)];
    y.flat<std::int32_t>(i) = label;
  }
  Dataset ds;
  ds.task = task;
  ds.x = to_tensor(x, {n, d}, s.dtype);
  ds.y = y;
  ds.num_classes = 2;
  ds.groups = {{"train", range(0, s.train)}};
  if (s.test > 0) ds.groups.push_back({"test", range(s.train, n)});
  ds.truth["max_margin_direction"] = to_tensor(w, {d}, DType::f64);
  ds.info["max_margin"] = s.margin;
  return finish(std::move(ds), ctx);
}

// ---------------------------------------------------------------------------------------------
// Gaussian clusters: class centres at distance `separation` from the origin in random directions,
// points = centre + stddev * N(0, I). Train rows class by class, then test rows.

Dataset make_clusters(const ClustersSpec& s, Context& ctx) {
  const char* task = "clusters";
  GROOVE_CHECK(s.classes >= 2, task, ": classes must be >= 2, got ", s.classes);
  check_positive(s.dim, task, "dim");
  check_positive(s.train_per_class, task, "train_per_class");
  GROOVE_CHECK(s.test_per_class >= 0 && s.separation >= 0 && s.stddev >= 0, task,
               ": test_per_class, separation and stddev must be >= 0");
  const std::int64_t c = s.classes, d = s.dim, per = s.train_per_class + s.test_per_class, n = c * per;
  HostRng centers_rng(s.seed, kCenters), inputs(s.seed, kInputs);
  std::vector<double> centers = gaussian_matrix(centers_rng, c, d, 1.0);
  for (std::int64_t k = 0; k < c; ++k) {
    double norm = 0;
    for (std::int64_t j = 0; j < d; ++j) norm += centers[static_cast<std::size_t>(k * d + j)] * centers[static_cast<std::size_t>(k * d + j)];
    for (std::int64_t j = 0; j < d; ++j) centers[static_cast<std::size_t>(k * d + j)] *= s.separation / std::sqrt(norm);
  }
  std::vector<double> x(static_cast<std::size_t>(n * d));
  Tensor y = Tensor::host({n}, DType::i32);
  std::vector<std::int32_t> train, test;
  std::int64_t row = 0;
  for (int part = 0; part < 2; ++part) {
    const std::int64_t count = part == 0 ? s.train_per_class : s.test_per_class;
    for (std::int64_t k = 0; k < c; ++k) {
      for (std::int64_t i = 0; i < count; ++i, ++row) {
        for (std::int64_t j = 0; j < d; ++j) {
          x[static_cast<std::size_t>(row * d + j)] = centers[static_cast<std::size_t>(k * d + j)] + s.stddev * inputs.normal();
        }
        y.flat<std::int32_t>(row) = static_cast<std::int32_t>(k);
        (part == 0 ? train : test).push_back(static_cast<std::int32_t>(row));
      }
    }
  }
  Dataset ds;
  ds.task = task;
  ds.x = to_tensor(x, {n, d}, s.dtype);
  ds.y = y;
  ds.num_classes = c;
  ds.groups = {{"train", train}};
  if (!test.empty()) ds.groups.push_back({"test", test});
  ds.truth["centers"] = to_tensor(centers, {c, d}, DType::f64);
  return finish(std::move(ds), ctx);
}

// ---------------------------------------------------------------------------------------------
// Deep-linear regression: whitened inputs (X^T X / n = I exactly) and targets Y = X M with
// M = V S U^T, so the input-output correlation Sigma_yx = Y^T X / n = U S V^T has the chosen
// singular values (U, V random orthonormal).

Dataset make_deep_linear(const DeepLinearSpec& s, Context& ctx) {
  const char* task = "deep_linear";
  check_positive(s.input_dim, task, "input_dim");
  check_positive(s.output_dim, task, "output_dim");
  const auto r = static_cast<std::int64_t>(s.singular_values.size());
  GROOVE_CHECK(r >= 1 && r <= std::min(s.input_dim, s.output_dim), task, ": ", r,
               " singular values for a ", s.output_dim, " x ", s.input_dim, " correlation (need 1 .. ",
               std::min(s.input_dim, s.output_dim), ")");
  for (double v : s.singular_values) GROOVE_CHECK(v >= 0 && std::isfinite(v), task, ": singular value ", v, " must be >= 0");
  GROOVE_CHECK(s.train >= s.input_dim, task, ": train (", s.train, ") must be >= input_dim (", s.input_dim,
               ") to whiten the inputs exactly");
  const std::int64_t n = s.train, din = s.input_dim, dout = s.output_dim;
  HostRng inputs(s.seed, kInputs), modes(s.seed, kModes);
  std::vector<double> x = gaussian_matrix(inputs, n, din, 1.0);
  orthonormalize_columns(x, n, din);
  for (double& v : x) v *= std::sqrt(static_cast<double>(n));
  std::vector<double> u = gaussian_matrix(modes, dout, r, 1.0), v = gaussian_matrix(modes, din, r, 1.0);
  orthonormalize_columns(u, dout, r);
  orthonormalize_columns(v, din, r);
  // M [din, dout] = V S U^T;  Y = X M.
  std::vector<double> m(static_cast<std::size_t>(din * dout), 0.0);
  for (std::int64_t i = 0; i < din; ++i)
    for (std::int64_t j = 0; j < dout; ++j)
      for (std::int64_t a = 0; a < r; ++a)
        m[static_cast<std::size_t>(i * dout + j)] += v[static_cast<std::size_t>(i * r + a)] * s.singular_values[static_cast<std::size_t>(a)] * u[static_cast<std::size_t>(j * r + a)];
  std::vector<double> yv(static_cast<std::size_t>(n * dout), 0.0);
  for (std::int64_t p = 0; p < n; ++p)
    for (std::int64_t i = 0; i < din; ++i)
      for (std::int64_t j = 0; j < dout; ++j)
        yv[static_cast<std::size_t>(p * dout + j)] += x[static_cast<std::size_t>(p * din + i)] * m[static_cast<std::size_t>(i * dout + j)];
  Dataset ds;
  ds.task = task;
  ds.x = to_tensor(x, {n, din}, s.dtype);
  ds.targets = to_tensor(yv, {n, dout}, s.dtype);
  ds.groups = {{"train", range(0, n)}};
  ds.truth["modes.u"] = to_tensor(u, {dout, r}, DType::f64);
  ds.truth["modes.v"] = to_tensor(v, {din, r}, DType::f64);
  ds.truth["singular_values"] = to_tensor(s.singular_values, {r}, DType::f64);
  return finish(std::move(ds), ctx);
}

// ---------------------------------------------------------------------------------------------
// Modular addition: every pair (a, b) in [0, p)^2, input one-hot(a) ++ one-hot(b), label
// (a + b) mod p; a random train_fraction of the pairs is "train", the rest "test".

Dataset make_modular_addition(const ModularSpec& s, Context& ctx) {
  const char* task = "modular_addition";
  GROOVE_CHECK(s.p >= 2 && s.p <= 1024, task, ": p must lie in [2, 1024], got ", s.p);
  GROOVE_CHECK(s.train_fraction > 0 && s.train_fraction <= 1, task, ": train_fraction must lie in (0, 1], got ",
               s.train_fraction);
  const std::int64_t p = s.p, n = p * p;
  Tensor x = Tensor::host_zeros({n, 2 * p}, s.dtype);
  Tensor y = Tensor::host({n}, DType::i32);
  for (std::int64_t a = 0; a < p; ++a) {
    for (std::int64_t b = 0; b < p; ++b) {
      const std::int64_t i = a * p + b;
      set(x, i * 2 * p + a, 1.0);
      set(x, i * 2 * p + p + b, 1.0);
      y.flat<std::int32_t>(i) = static_cast<std::int32_t>((a + b) % p);
    }
  }
  HostRng split(s.seed, kSplit);
  const std::vector<std::int32_t> order = split.sample(range(0, n), n);
  const auto n_train = std::max<std::int64_t>(1, std::llround(s.train_fraction * static_cast<double>(n)));
  Dataset ds;
  ds.task = task;
  ds.x = x;
  ds.y = y;
  ds.num_classes = p;
  ds.groups = {{"train", std::vector<std::int32_t>(order.begin(), order.begin() + n_train)}};
  if (n_train < n) ds.groups.push_back({"test", std::vector<std::int32_t>(order.begin() + n_train, order.end())});
  return finish(std::move(ds), ctx);
}

// ---------------------------------------------------------------------------------------------
// Sparse parity: x uniform in {-1, +1}^bits, label = [product of the relevant bits > 0].

Dataset make_sparse_parity(const SparseParitySpec& s, Context& ctx) {
  const char* task = "sparse_parity";
  check_positive(s.bits, task, "bits");
  GROOVE_CHECK(s.relevant >= 1 && s.relevant <= s.bits, task, ": relevant must lie in [1, bits = ", s.bits,
               "], got ", s.relevant);
  check_positive(s.train, task, "train");
  const std::int64_t n = s.train + s.test, d = s.bits;
  HostRng choose(s.seed, kDirection), inputs(s.seed, kInputs);
  std::vector<std::int32_t> relevant = choose.sample(range(0, d), s.relevant);
  std::sort(relevant.begin(), relevant.end());
  Tensor x = Tensor::host({n, d}, s.dtype);
  Tensor y = Tensor::host({n}, DType::i32);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < d; ++j) set(x, i * d + j, (inputs.next_u32() & 1u) ? 1.0 : -1.0);
    double prod = 1;
    for (std::int32_t j : relevant) prod *= x.dtype() == DType::f32 ? x.flat<float>(i * d + j) : x.flat<double>(i * d + j);
    y.flat<std::int32_t>(i) = prod > 0 ? 1 : 0;
  }
  Dataset ds;
  ds.task = task;
  ds.x = x;
  ds.y = y;
  ds.num_classes = 2;
  ds.groups = {{"train", range(0, s.train)}};
  if (s.test > 0) ds.groups.push_back({"test", range(s.train, n)});
  ds.truth["relevant_bits"] =
      Tensor::from_vector<std::int32_t>({static_cast<std::int64_t>(relevant.size())}, relevant);
  return finish(std::move(ds), ctx);
}

}  // namespace groove::tasks
