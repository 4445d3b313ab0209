// Dataset generators. Each is a pure function of its parameters and seed (Philox-4x32-10 on the
// host), so the same call gives bitwise the same dataset on every machine; `ctx` only says where
// the tensors go. Parameters and ground-truth arrays are documented in docs/data.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/math.h"
#include "tasks/dataset.h"

namespace groove::tasks {

// ---- Odor mixtures (SCIENCE.md) --------------------------------------------------------------
enum class Projection : std::uint8_t { none, gaussian, sparse };
enum class Balance : std::uint8_t { none, repeat, weights };

struct OdorSpec {
  std::int64_t odorants = 100;    // k
  std::int64_t odor_size = 10;    // n: every odor is an n-hot vector over the k odorants
  std::int64_t non_targets = 200; // training non-targets, sharing no odorant with the target
  std::vector<std::int64_t> probe_overlaps = {1, 2, 4, 8};  // one held-out group per overlap
  std::int64_t probes_per_group = 20;
  std::int64_t test_non_targets = 50;  // held-out "test" group of fresh non-targets (0: none)
  Projection projection = Projection::gaussian;  // the fixed random "glomerular" projection
  std::int64_t glomeruli = 100;                   // its output dimension
  double sparsity = 0.1;                          // sparse: fraction of non-zero entries
  std::uint64_t projection_seed = 0;
  double input_noise = 0.0;  // stddev of Gaussian noise added to every projected input (drawn once)
  Balance balance = Balance::repeat;  // target repetition (as in SCIENCE.md) or example weights
  std::uint64_t seed = 0;
  DType dtype = DType::f32;
};
Dataset make_odor_task(const OdorSpec& spec, Context& ctx);

// ---- Teacher-student ------------------------------------------------------------------------
struct TeacherStudentSpec {
  std::int64_t input_dim = 32;
  std::int64_t teacher_width = 16;
  Activation activation = Activation::relu;
  bool classification = true;  // labels = [f*(x) > 0]; false: regression targets f*(x) + noise
  double noise = 0.0;          // regression target noise stddev
  std::int64_t train = 512, test = 512;
  std::uint64_t seed = 0;
  DType dtype = DType::f32;
};
Dataset make_teacher_student(const TeacherStudentSpec& spec, Context& ctx);

// ---- Linearly separable with a known max-margin direction -----------------------------------
struct SeparableSpec {
  std::int64_t dim = 10;
  std::int64_t train = 200, test = 200;
  double margin = 0.5;  // the homogeneous (no bias) max margin
  double spread = 1.0;  // scale of the distances beyond the margin and of the orthogonal part
  std::uint64_t seed = 0;
  DType dtype = DType::f32;
};
Dataset make_separable(const SeparableSpec& spec, Context& ctx);

// ---- Gaussian clusters ----------------------------------------------------------------------
struct ClustersSpec {
  std::int64_t classes = 3;
  std::int64_t dim = 10;
  std::int64_t train_per_class = 100, test_per_class = 100;
  double separation = 3.0;  // distance of each class centre from the origin
  double stddev = 1.0;      // within-class spread
  std::uint64_t seed = 0;
  DType dtype = DType::f32;
};
Dataset make_clusters(const ClustersSpec& spec, Context& ctx);

// ---- Deep-linear regression with a chosen input-output correlation spectrum -----------------
struct DeepLinearSpec {
  std::int64_t input_dim = 8, output_dim = 8;
  std::vector<double> singular_values = {3.0, 2.0, 1.0, 0.5};
  std::int64_t train = 256;  // >= input_dim: inputs are exactly whitened (X^T X / n = I)
  std::uint64_t seed = 0;
  DType dtype = DType::f32;
};
Dataset make_deep_linear(const DeepLinearSpec& spec, Context& ctx);

// ---- Modular arithmetic (grokking) -----------------------------------------------------------
struct ModularSpec {
  std::int64_t p = 97;           // all pairs (a, b), label (a + b) mod p
  double train_fraction = 0.5;   // the rest is the "test" group
  std::uint64_t seed = 0;
  DType dtype = DType::f32;
};
Dataset make_modular_addition(const ModularSpec& spec, Context& ctx);

// ---- Sparse parity (grokking) ----------------------------------------------------------------
struct SparseParitySpec {
  std::int64_t bits = 20;     // inputs in {-1, +1}^bits
  std::int64_t relevant = 3;  // label = [product of the relevant bits > 0]
  std::int64_t train = 1000, test = 1000;
  std::uint64_t seed = 0;
  DType dtype = DType::f32;
};
Dataset make_sparse_parity(const SparseParitySpec& spec, Context& ctx);

// A small counter-based generator over Philox for host-side sampling: draw i of (seed, stream)
// is a pure function of i, so generators are reproducible and independent of call order.
class HostRng {
 public:
  HostRng(std::uint64_t seed, std::uint64_t stream) : seed_(seed), stream_(stream) {}
  std::uint32_t next_u32();
  double uniform();                      // (0, 1)
  double normal();                       // N(0, 1)
  std::int64_t below(std::int64_t n);    // uniform in [0, n), unbiased
  // `count` distinct values drawn uniformly from `pool` (partial Fisher-Yates), in draw order.
  std::vector<std::int32_t> sample(std::vector<std::int32_t> pool, std::int64_t count);

 private:
  std::uint64_t seed_, stream_, block_ = 0;
  std::uint32_t words_[4] = {};
  int used_ = 4;
  bool have_spare_ = false;
  double spare_ = 0;
};

}  // namespace groove::tasks
