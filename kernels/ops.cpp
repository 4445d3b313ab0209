// Tensor-level ops: validate arguments (errors name the argument), then call the backend kernel.
#include "kernels/ops.h"

#include <groove/config.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "kernels/backend.h"
#include "kernels/validate.h"

namespace groove::ops {

using detail::check_float;
using detail::check_on;

namespace {
void check_same(const Tensor& a, const char* a_name, const Tensor& b, const char* b_name, const char* op) {
  GROOVE_CHECK(a.dtype() == b.dtype(), op, ": '", a_name, "' is ", a.str(), " but '", b_name, "' is ", b.str(),
               " (dtypes differ)");
  GROOVE_CHECK(a.shape() == b.shape(), op, ": '", a_name, "' has shape ", a.shape().str(), " but '", b_name,
               "' has shape ", b.shape().str());
}

int normalize_axis(int axis, int ndim, const char* op) {
  const int a = axis < 0 ? axis + ndim : axis;
  GROOVE_CHECK(a >= 0 && a < ndim, op, ": axis ", axis, " out of range for a tensor with ", ndim, " dimensions");
  return a;
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// GEMM

GemmAlgo gemm_algo_for(Device device, std::int64_t m, std::int64_t n, std::int64_t k) {
  if (device.is_cpu()) return GemmAlgo::vendor;
  // Small products: cuBLAS's large tiles and heuristics cost more than they save. Provisional
  // threshold, to be tuned by the benchmark suite (bench/bench_gemm.cpp).
  const bool small = std::max(m, n) <= 64 || m * n * k <= (std::int64_t(1) << 18);
  return small ? GemmAlgo::handwritten : GemmAlgo::vendor;
}

void gemm(Tensor& c, const Tensor& a, const Tensor& b, const GemmOptions& o, Context& ctx) {
  check_float(a, "gemm", "a");
  check_on(a, "gemm", "a", ctx);
  check_on(b, "gemm", "b", ctx);
  check_on(c, "gemm", "c", ctx);
  GROOVE_CHECK(b.dtype() == a.dtype() && c.dtype() == a.dtype(), "gemm: dtypes differ: a ", a.str(), ", b ", b.str(),
               ", c ", c.str());
  GROOVE_CHECK(a.ndim() == 2 || a.ndim() == 3, "gemm: 'a' must be [K, M, Ka] or shared [M, Ka], got ", a.str());
  GROOVE_CHECK(b.ndim() == 2 || b.ndim() == 3, "gemm: 'b' must be [K, Ka, N] or shared [Ka, N], got ", b.str());
  const bool a_batched = a.ndim() == 3, b_batched = b.ndim() == 3;
  const std::int64_t a_rows = a.dim(-2), a_cols = a.dim(-1), b_rows = b.dim(-2), b_cols = b.dim(-1);
  GemmShape s;
  s.trans_a = o.trans_a;
  s.trans_b = o.trans_b;
  s.m = o.trans_a ? a_cols : a_rows;
  s.k = o.trans_a ? a_rows : a_cols;
  const std::int64_t kb = o.trans_b ? b_cols : b_rows;
  s.n = o.trans_b ? b_rows : b_cols;
  GROOVE_CHECK(s.k == kb, "gemm: inner dimensions differ: op(a) is ", s.m, "x", s.k, " (a ", a.str(),
               o.trans_a ? ", transposed" : "", ") but op(b) is ", kb, "x", s.n, " (b ", b.str(),
               o.trans_b ? ", transposed" : "", ")");
  std::int64_t batch = 1;
  if (a_batched && b_batched) {
    GROOVE_CHECK(a.dim(0) == b.dim(0), "gemm: model dimensions differ: a ", a.str(), ", b ", b.str());
  }
  if (a_batched) batch = a.dim(0);
  if (b_batched) batch = b.dim(0);
  const bool c_batched = a_batched || b_batched;
  const Shape c_expected = c_batched ? Shape{batch, s.m, s.n} : Shape{s.m, s.n};
  GROOVE_CHECK(c.shape() == c_expected, "gemm: 'c' has shape ", c.shape().str(), ", expected ", c_expected.str(),
               " for a ", a.str(), " and b ", b.str());
  GROOVE_CHECK(!c.shares_storage_with(a) && !c.shares_storage_with(b),
               "gemm: the output 'c' must not share memory with an input");
  s.batch = batch;
  s.stride_a = a_batched ? s.m * s.k : 0;
  s.stride_b = b_batched ? s.k * s.n : 0;
  s.stride_c = s.m * s.n;
  if (s.m == 0 || s.n == 0 || batch == 0) return;
  GemmAlgo algo = o.algo;
  if (algo == GemmAlgo::automatic) {
    // cuBLAS is not batch invariant (its algorithm may depend on the batch count); see ContextOptions.
    algo = ctx.is_cuda() && ctx.batch_invariant() ? GemmAlgo::handwritten : gemm_algo_for(ctx.device(), s.m, s.n, s.k);
  }
  GROOVE_DISPATCH_FLOAT(a.dtype(), "gemm", [&] {
    GROOVE_BACKEND(ctx, gemm<T>)
    (c.data<T>(), a.data<T>(), b.data<T>(), s, static_cast<T>(o.alpha), static_cast<T>(o.beta), algo, ctx);
  });
}

// ---------------------------------------------------------------------------------------------
// Elementwise

Activation parse_activation(const std::string& name) {
  std::string n = name;
  std::replace(n.begin(), n.end(), '-', '_');
  for (int i = 0; i < kNumActivations; ++i) {
    if (n == kActivationNames[i]) return static_cast<Activation>(i);
  }
  std::string valid;
  for (int i = 0; i < kNumActivations; ++i) valid += std::string(i ? ", " : "") + kActivationNames[i];
  GROOVE_THROW("unknown activation '", name, "': expected one of ", valid);
}

const char* activation_name(Activation a) {
  return kActivationNames[static_cast<int>(a)];
}

void activation_forward(Tensor& y, const Tensor& x, Activation act, Context& ctx, double slope) {
  check_float(x, "activation_forward", "x");
  check_on(x, "activation_forward", "x", ctx);
  check_on(y, "activation_forward", "y", ctx);
  check_same(y, "y", x, "x", "activation_forward");
  GROOVE_DISPATCH_FLOAT(x.dtype(), "activation_forward", [&] {
    GROOVE_BACKEND(ctx, activation_forward<T>)(y.data<T>(), x.data<T>(), x.numel(), act, static_cast<T>(slope), ctx);
  });
}

void activation_backward(Tensor& dx, const Tensor& dy, const Tensor& x, Activation act, bool accumulate, Context& ctx,
                         double slope) {
  check_float(x, "activation_backward", "x");
  check_on(x, "activation_backward", "x", ctx);
  check_on(dy, "activation_backward", "dy", ctx);
  check_on(dx, "activation_backward", "dx", ctx);
  check_same(dy, "dy", x, "x", "activation_backward");
  check_same(dx, "dx", x, "x", "activation_backward");
  GROOVE_DISPATCH_FLOAT(x.dtype(), "activation_backward", [&] {
    GROOVE_BACKEND(ctx, activation_backward<T>)
    (dx.data<T>(), dy.data<T>(), x.data<T>(), x.numel(), act, static_cast<T>(slope), accumulate, ctx);
  });
}

namespace {
// A bias for x [K, rows..., N]: [K, N] or shared [N], x's dtype.
void check_bias(const Tensor& bias, const Tensor& x, const char* op, const char* x_name) {
  GROOVE_CHECK(bias.dtype() == x.dtype(), op, ": 'bias' is ", bias.str(), " but '", x_name, "' is ", x.str());
  GROOVE_CHECK(x.ndim() >= 2, op, ": '", x_name, "' must be [K, ..., N], got ", x.str());
  const std::int64_t models = x.dim(0), cols = x.dim(-1);
  GROOVE_CHECK(
      (bias.ndim() == 1 && bias.dim(0) == cols) || (bias.ndim() == 2 && bias.dim(0) == models && bias.dim(1) == cols),
      op, ": 'bias' has shape ", bias.shape().str(), ", expected [", models, ", ", cols, "] or shared [", cols, "] for ",
      x_name, " ", x.str());
}
}  // namespace

void bias_add(Tensor& y, const Tensor& x, const Tensor& bias, Context& ctx) {
  check_float(x, "bias_add", "x");
  check_on(x, "bias_add", "x", ctx);
  check_on(bias, "bias_add", "bias", ctx);
  check_on(y, "bias_add", "y", ctx);
  check_same(y, "y", x, "x", "bias_add");
  check_bias(bias, x, "bias_add", "x");
  const std::int64_t models = x.dim(0), cols = x.dim(-1);
  const std::int64_t rows = x.shape().prod(1, x.ndim() - 1);
  const bool shared = bias.ndim() == 1;
  GROOVE_DISPATCH_FLOAT(x.dtype(), "bias_add", [&] {
    GROOVE_BACKEND(ctx, bias_add<T>)(y.data<T>(), x.data<T>(), bias.data<T>(), models, rows, cols, shared, ctx);
  });
}

void bias_activation(Tensor& y, const Tensor& bias, Activation act, Context& ctx, double slope) {
  check_float(y, "bias_activation", "y");
  check_on(y, "bias_activation", "y", ctx);
  GROOVE_CHECK(y.ndim() >= 2, "bias_activation: 'y' must be [K, ..., N], got ", y.str());
  const std::int64_t models = y.dim(0), cols = y.dim(-1);
  const std::int64_t rows = y.shape().prod(1, y.ndim() - 1);
  const bool has_bias = bias.defined();
  const bool shared = has_bias && bias.ndim() == 1;
  if (has_bias) {
    check_on(bias, "bias_activation", "bias", ctx);
    check_bias(bias, y, "bias_activation", "y");
  }
  GROOVE_DISPATCH_FLOAT(y.dtype(), "bias_activation", [&] {
    GROOVE_BACKEND(ctx, bias_activation<T>)
    (y.data<T>(), has_bias ? bias.data<T>() : nullptr, models, rows, cols, shared, act, static_cast<T>(slope), ctx);
  });
}

void activation_backward_from_output(Tensor& dz, Tensor& dbias, const Tensor& dy, const Tensor& y, Activation act,
                                     bool accumulate_dz, bool accumulate_dbias, Context& ctx, double slope) {
  const char* op = "activation_backward_from_output";
  GROOVE_CHECK(math::activation_derivative_from_output_exact(act, slope), op, ": the derivative of ",
               activation_name(act), (act == Activation::leaky_relu ? " with a slope <= 0" : ""),
               " cannot be taken from its output exactly; keep the pre-activation (activation_backward)");
  check_float(y, op, "y");
  check_on(y, op, "y", ctx);
  check_on(dy, op, "dy", ctx);
  check_on(dz, op, "dz", ctx);
  check_same(dy, "dy", y, "y", op);
  check_same(dz, "dz", y, "y", op);
  GROOVE_CHECK(y.ndim() >= 2, op, ": 'y' must be [K, ..., N], got ", y.str());
  const std::int64_t models = y.dim(0), cols = y.dim(-1);
  const std::int64_t rows = y.shape().prod(1, y.ndim() - 1);
  if (dbias.defined()) {
    check_on(dbias, op, "dbias", ctx);
    GROOVE_CHECK(dbias.dtype() == y.dtype() && dbias.ndim() == 2 && dbias.dim(0) == models && dbias.dim(1) == cols,
                 op, ": 'dbias' is ", dbias.str(), ", expected [", models, ", ", cols, "] ", dtype_name(y.dtype()));
  }
  GROOVE_DISPATCH_FLOAT(y.dtype(), op, [&] {
    GROOVE_BACKEND(ctx, activation_backward_from_output<T>)
    (dz.data<T>(), dbias.defined() ? dbias.data<T>() : nullptr, dy.data<T>(), y.data<T>(), models, rows, cols, act,
     static_cast<T>(slope), accumulate_dz, accumulate_dbias, ctx);
  });
}

void binary(Tensor& z, const Tensor& x, const Tensor& y, BinaryOp op, Context& ctx) {
  const char* name = kBinaryOpNames[static_cast<int>(op)];
  check_float(x, name, "x");
  check_on(x, name, "x", ctx);
  check_on(y, name, "y", ctx);
  check_on(z, name, "z", ctx);
  check_same(y, "y", x, "x", name);
  check_same(z, "z", x, "x", name);
  GROOVE_DISPATCH_FLOAT(x.dtype(), name, [&] {
    GROOVE_BACKEND(ctx, binary<T>)(z.data<T>(), x.data<T>(), y.data<T>(), x.numel(), op, ctx);
  });
}

namespace {
void scale_add_impl(Tensor& y, const Tensor& x, double alpha, const Tensor* alpha_k, bool accumulate, const char* op,
                    Context& ctx) {
  check_float(x, op, "x");
  check_on(x, op, "x", ctx);
  check_on(y, op, "y", ctx);
  check_same(y, "y", x, "x", op);
  std::int64_t models = 1, per_model = x.numel();
  if (alpha_k) {
    check_on(*alpha_k, op, "alpha", ctx);
    GROOVE_CHECK(alpha_k->dtype() == x.dtype(), op, ": per-model 'alpha' is ", alpha_k->str(), " but 'x' is ", x.str());
    GROOVE_CHECK(x.ndim() >= 1 && alpha_k->ndim() == 1 && alpha_k->dim(0) == x.dim(0), op,
                 ": per-model 'alpha' must be [K] with K = x.dim(0); got alpha ", alpha_k->str(), ", x ", x.str());
    models = x.dim(0);
    per_model = models ? x.numel() / models : 0;
  }
  GROOVE_DISPATCH_FLOAT(x.dtype(), op, [&] {
    GROOVE_BACKEND(ctx, scale_add<T>)
    (y.data<T>(), x.data<T>(), models, per_model, static_cast<T>(alpha), alpha_k ? alpha_k->data<T>() : nullptr,
     accumulate, ctx);
  });
}
}  // namespace

void scale(Tensor& y, const Tensor& x, double alpha, Context& ctx) {
  scale_add_impl(y, x, alpha, nullptr, false, "scale", ctx);
}
void scale(Tensor& y, const Tensor& x, const Tensor& alpha_per_model, Context& ctx) {
  scale_add_impl(y, x, 1.0, &alpha_per_model, false, "scale", ctx);
}
void axpy(Tensor& y, const Tensor& x, double alpha, Context& ctx) {
  scale_add_impl(y, x, alpha, nullptr, true, "axpy", ctx);
}
void axpy(Tensor& y, const Tensor& x, const Tensor& alpha_per_model, Context& ctx) {
  scale_add_impl(y, x, 1.0, &alpha_per_model, true, "axpy", ctx);
}

void fill(Tensor& y, double value, Context& ctx) {
  check_on(y, "fill", "y", ctx);
  if (y.dtype() == DType::i32) {
    GROOVE_CHECK(value == static_cast<double>(static_cast<std::int32_t>(value)), "fill: value ", value,
                 " is not representable in i32 tensor ", y.str());
  }
  GROOVE_DISPATCH_ALL(y.dtype(), "fill", [&] {
    GROOVE_BACKEND(ctx, fill<T>)(y.data<T>(), y.numel(), static_cast<T>(value), ctx);
  });
}

void copy(Tensor& dst, const Tensor& src, Context& ctx) {
  check_on(src, "copy", "src", ctx);
  check_on(dst, "copy", "dst", ctx);
  check_same(dst, "dst", src, "src", "copy");
  if (dst.raw() == src.raw()) return;
  GROOVE_BACKEND(ctx, copy_bytes)(dst.raw(), src.raw(), src.nbytes(), ctx);
}

#define COMMA ,
void convert(Tensor& dst, const Tensor& src, Context& ctx) {
  check_on(src, "convert", "src", ctx);
  check_on(dst, "convert", "dst", ctx);
  check_float(src, "convert", "src");
  check_float(dst, "convert", "dst");
  GROOVE_CHECK(dst.shape() == src.shape(), "convert: 'dst' is ", dst.str(), " but 'src' is ", src.str(),
               " (shapes differ)");
  if (dst.dtype() == src.dtype()) {
    copy(dst, src, ctx);
  } else if (dst.dtype() == DType::f64) {
    GROOVE_BACKEND(ctx, convert<double COMMA float>)(dst.data<double>(), src.data<float>(), src.numel(), ctx);
  } else {
    GROOVE_BACKEND(ctx, convert<float COMMA double>)(dst.data<float>(), src.data<double>(), src.numel(), ctx);
  }
}
#undef COMMA

// ---------------------------------------------------------------------------------------------
// Reductions

namespace {
ReduceShape reduce_shape(Tensor& out, const Tensor& x, int axis, DType out_dtype, const char* op, Context& ctx) {
  check_float(x, op, "x");
  check_on(x, op, "x", ctx);
  check_on(out, op, "out", ctx);
  GROOVE_CHECK(x.ndim() >= 1, op, ": cannot reduce a 0-dimensional tensor ", x.str());
  const int a = normalize_axis(axis, x.ndim(), op);
  GROOVE_CHECK(out.dtype() == out_dtype, op, ": 'out' is ", out.str(), ", expected dtype ", dtype_name(out_dtype));
  GROOVE_CHECK(out.shape() == x.shape().without(a), op, ": 'out' has shape ", out.shape().str(), ", expected ",
               x.shape().without(a).str(), " (x ", x.str(), " reduced over axis ", a, ")");
  ReduceShape s;
  s.outer = x.shape().prod(0, a);
  s.r = x.dim(a);
  s.inner = x.shape().prod(a + 1, x.ndim());
  return s;
}
}  // namespace

void reduce(Tensor& out, const Tensor& x, int axis, ReduceOp op, Context& ctx) {
  const char* name = kReduceOpNames[static_cast<int>(op)];
  const ReduceShape s = reduce_shape(out, x, axis, x.dtype(), name, ctx);
  GROOVE_CHECK(s.r > 0 || (op != ReduceOp::max && op != ReduceOp::mean), name, " over an empty axis of ", x.str());
  if (out.numel() == 0) return;
  GROOVE_DISPATCH_FLOAT(x.dtype(), name, [&] {
    GROOVE_BACKEND(ctx, reduce<T>)(out.data<T>(), x.data<T>(), s, op, ctx);
  });
}

void argmax(Tensor& out, const Tensor& x, int axis, Context& ctx) {
  const ReduceShape s = reduce_shape(out, x, axis, DType::i32, "argmax", ctx);
  GROOVE_CHECK(s.r > 0, "argmax over an empty axis of ", x.str());
  GROOVE_CHECK(s.r <= std::numeric_limits<std::int32_t>::max(), "argmax: axis of length ", s.r,
               " does not fit an i32 index");
  if (out.numel() == 0) return;
  GROOVE_DISPATCH_FLOAT(x.dtype(), "argmax", [&] {
    GROOVE_BACKEND(ctx, argmax<T>)(out.data<std::int32_t>(), x.data<T>(), s, ctx);
  });
}

// ---------------------------------------------------------------------------------------------
// Indexing

void gather_rows(Tensor& y, const Tensor& x, const Tensor& index, Context& ctx) {
  check_on(x, "gather_rows", "x", ctx);
  check_on(index, "gather_rows", "index", ctx);
  check_on(y, "gather_rows", "y", ctx);
  GROOVE_CHECK(index.dtype() == DType::i32, "gather_rows: 'index' must be i32, got ", index.str());
  GROOVE_CHECK(y.dtype() == x.dtype(), "gather_rows: 'y' is ", y.str(), " but 'x' is ", x.str());
  GROOVE_CHECK(x.ndim() == 2 || x.ndim() == 3, "gather_rows: 'x' must be [K, P, D] or shared [P, D], got ", x.str());
  GROOVE_CHECK(index.ndim() == 1 || index.ndim() == 2, "gather_rows: 'index' must be [M] or [K, M], got ", index.str());
  const bool x_batched = x.ndim() == 3, idx_batched = index.ndim() == 2;
  GatherShape s;
  s.p = x.dim(-2);
  s.d = x.dim(-1);
  s.m = index.dim(-1);
  if (x_batched && idx_batched) {
    GROOVE_CHECK(x.dim(0) == index.dim(0), "gather_rows: model dimensions differ: x ", x.str(), ", index ",
                 index.str());
  }
  s.batch = x_batched ? x.dim(0) : idx_batched ? index.dim(0) : 1;
  s.x_batch_stride = x_batched ? s.p * s.d : 0;
  s.index_batch_stride = idx_batched ? s.m : 0;
  const Shape expected = (x_batched || idx_batched) ? Shape{s.batch, s.m, s.d} : Shape{s.m, s.d};
  check_shape(y, "gather_rows: y", expected);
  GROOVE_CHECK(!y.shares_storage_with(x), "gather_rows: 'y' must not share memory with 'x'");
  if (y.numel() == 0) return;
  GROOVE_DISPATCH_ALL(x.dtype(), "gather_rows", [&] {
    GROOVE_BACKEND(ctx, gather_rows<T>)(y.data<T>(), x.data<T>(), index.data<std::int32_t>(), s, ctx);
  });
}

void one_hot(Tensor& y, const Tensor& labels, Context& ctx) {
  check_float(y, "one_hot", "y");
  check_on(y, "one_hot", "y", ctx);
  check_on(labels, "one_hot", "labels", ctx);
  GROOVE_CHECK(labels.dtype() == DType::i32, "one_hot: 'labels' must be i32, got ", labels.str());
  GROOVE_CHECK(y.ndim() == labels.ndim() + 1 && y.shape().without(y.ndim() - 1) == labels.shape(),
               "one_hot: 'y' has shape ", y.shape().str(), ", expected ", labels.shape().str(), " + [C]");
  GROOVE_DISPATCH_FLOAT(y.dtype(), "one_hot", [&] {
    GROOVE_BACKEND(ctx, one_hot<T>)(y.data<T>(), labels.data<std::int32_t>(), labels.numel(), y.dim(-1), ctx);
  });
}

// ---------------------------------------------------------------------------------------------
// Random numbers

namespace {
std::uint64_t blocks_for(std::int64_t n, int per_block) {
  return static_cast<std::uint64_t>((n + per_block - 1) / per_block);
}
}  // namespace

std::uint64_t random_uniform(Tensor& y, const RngKey& key, double lo, double hi, Context& ctx) {
  check_float(y, "random_uniform", "y");
  check_on(y, "random_uniform", "y", ctx);
  GROOVE_CHECK(lo < hi, "random_uniform: need lo < hi, got lo = ", lo, ", hi = ", hi);
  return GROOVE_DISPATCH_FLOAT(y.dtype(), "random_uniform", [&] {
    GROOVE_BACKEND(ctx, random_uniform<T>)(y.data<T>(), y.numel(), key, static_cast<T>(lo), static_cast<T>(hi), ctx);
    return blocks_for(y.numel(), sizeof(T) == 4 ? kUniformF32PerBlock : kUniformF64PerBlock);
  });
}

std::uint64_t random_normal(Tensor& y, const RngKey& key, double mean, double stddev, Context& ctx) {
  check_float(y, "random_normal", "y");
  check_on(y, "random_normal", "y", ctx);
  GROOVE_CHECK(stddev >= 0, "random_normal: stddev must be >= 0, got ", stddev);
  GROOVE_DISPATCH_FLOAT(y.dtype(), "random_normal", [&] {
    GROOVE_BACKEND(ctx, random_normal<T>)
    (y.data<T>(), y.numel(), key, static_cast<T>(mean), static_cast<T>(stddev), ctx);
  });
  return blocks_for(y.numel(), kNormalPerBlock);
}

std::uint64_t random_bernoulli(Tensor& y, const RngKey& key, double p, Context& ctx) {
  check_float(y, "random_bernoulli", "y");
  check_on(y, "random_bernoulli", "y", ctx);
  GROOVE_CHECK(p >= 0 && p <= 1, "random_bernoulli: p must be in [0, 1], got ", p);
  GROOVE_DISPATCH_FLOAT(y.dtype(), "random_bernoulli", [&] {
    GROOVE_BACKEND(ctx, random_bernoulli<T>)(y.data<T>(), y.numel(), key, static_cast<float>(p), ctx);
  });
  return blocks_for(y.numel(), kBernoulliPerBlock);
}

std::uint64_t random_permutation(Tensor& y, const RngKey& key, Context& ctx) {
  check_on(y, "random_permutation", "y", ctx);
  GROOVE_CHECK(y.dtype() == DType::i32 && y.ndim() == 1, "random_permutation: 'y' must be i32 [n], got ", y.str());
  GROOVE_BACKEND(ctx, random_permutation)(y.data<std::int32_t>(), y.numel(), key, ctx);
  return blocks_for(y.numel(), kPermutationKeysPerBlock);
}

// ---------------------------------------------------------------------------------------------
// Training

namespace {
void check_model_rng(const Tensor& seeds, const Tensor& step, std::int64_t models, const char* op, const Context& ctx) {
  check_on(seeds, op, "seeds", ctx);
  check_on(step, op, "step", ctx);
  GROOVE_CHECK(seeds.dtype() == DType::i32 && seeds.ndim() == 1 && seeds.dim(0) == models, op,
               ": 'seeds' must be i32 [", models, "] (one per model), got ", seeds.str());
  GROOVE_CHECK(step.dtype() == DType::i32 && step.numel() == 1, op, ": 'step' must be an i32 [1] counter, got ",
               step.str());
}

// Validates y = f(x) over x [K, ...] with per-model randomness; returns {K, elements per model}.
std::pair<std::int64_t, std::int64_t> check_per_model_draw(const Tensor& y, const Tensor& x, const Tensor& seeds,
                                                           const Tensor& step, const char* op, const Context& ctx) {
  check_float(x, op, "x");
  check_on(x, op, "x", ctx);
  check_on(y, op, "y", ctx);
  check_same(y, "y", x, "x", op);
  GROOVE_CHECK(x.ndim() >= 1, op, ": 'x' must have a leading model dimension, got ", x.str());
  check_model_rng(seeds, step, x.dim(0), op, ctx);
  const std::int64_t models = x.dim(0);
  return {models, models ? x.numel() / models : 0};
}
}  // namespace

void loss_forward(Tensor& loss, Tensor& log10_loss, Tensor& dlogits, Tensor& per_example, const Tensor& logits,
                  const Tensor& labels, const Tensor& targets, const Tensor& weights, double weight_sum,
                  const LossSpec& spec, Context& ctx) {
  const char* op = kLossNames[static_cast<int>(spec.kind)];
  check_float(logits, op, "logits");
  check_on(logits, op, "logits", ctx);
  GROOVE_CHECK(logits.ndim() == 3, op, ": 'logits' must be [K, P, C], got ", logits.str());
  LossShape s;
  s.models = logits.dim(0);
  s.examples = logits.dim(1);
  s.classes = logits.dim(2);
  const DType dt = logits.dtype();
  check_on(loss, op, "loss", ctx);
  check_on(log10_loss, op, "log10_loss", ctx);
  check_shape(loss, "loss", {s.models});
  check_shape(log10_loss, "log10_loss", {s.models});
  check_tensor(loss, "loss", dt);
  check_tensor(log10_loss, "log10_loss", dt);
  check_on(per_example, op, "per_example", ctx);
  check_tensor(per_example, "per_example", DType::f64);
  check_shape(per_example, "per_example", {2, s.models, s.examples});
  if (dlogits.defined()) {
    check_on(dlogits, op, "dlogits", ctx);
    check_same(dlogits, "dlogits", logits, "logits", op);
  }
  const bool real_targets = spec.kind == LossKind::squared_error && targets.defined();
  if (real_targets) {
    check_on(targets, op, "targets", ctx);
    GROOVE_CHECK(targets.dtype() == dt, op, ": 'targets' is ", targets.str(), " but 'logits' is ", logits.str());
    const bool shared = targets.ndim() == 2;
    GROOVE_CHECK(targets.shape() == (shared ? Shape{s.examples, s.classes} : logits.shape()), op,
                 ": 'targets' must be [P, C] or [K, P, C] = ", logits.shape().str(), ", got ", targets.str());
    s.target_model_stride = shared ? 0 : s.examples * s.classes;
  } else {
    GROOVE_CHECK(!targets.defined(), op, ": 'targets' are only used by squared_error");
    check_on(labels, op, "labels", ctx);
    GROOVE_CHECK(labels.dtype() == DType::i32, op, ": 'labels' must be i32, got ", labels.str());
    const bool shared = labels.ndim() == 1;
    GROOVE_CHECK(labels.shape() == (shared ? Shape{s.examples} : Shape{s.models, s.examples}), op,
                 ": 'labels' must be [P] or [K, P] with P = ", s.examples, ", K = ", s.models, ", got ", labels.str());
    s.label_model_stride = shared ? 0 : s.examples;
  }
  if (spec.kind == LossKind::softmax_cross_entropy) {
    GROOVE_CHECK(s.classes >= 2, op, ": needs C >= 2 outputs, got logits ", logits.str(),
                 " (use the logistic loss for a scalar output)");
  }
  if (spec.kind == LossKind::logistic) {
    GROOVE_CHECK(s.classes == 1, op, ": needs a scalar output (C = 1), got logits ", logits.str(),
                 " (use cross_entropy for C classes)");
  }
  if (weights.defined()) {
    check_on(weights, op, "weights", ctx);
    GROOVE_CHECK(weights.dtype() == dt, op, ": 'weights' is ", weights.str(), " but 'logits' is ", logits.str());
    check_shape(weights, "weights", {s.examples});
  }
  GROOVE_CHECK(weight_sum > 0, op, ": the sum of example weights must be positive, got ", weight_sum);
  if (s.models == 0) return;
  GROOVE_DISPATCH_FLOAT(dt, op, [&] {
    GROOVE_BACKEND(ctx, loss_forward<T>)
    (loss.data<T>(), log10_loss.data<T>(), dlogits.defined() ? dlogits.data<T>() : nullptr, per_example.data<double>(),
     logits.data<T>(), real_targets ? nullptr : labels.data<std::int32_t>(), real_targets ? targets.data<T>() : nullptr,
     weights.defined() ? weights.data<T>() : nullptr, s, 1.0 / weight_sum, spec, ctx);
  });
}

void optimizer_update(Tensor& params, const Tensor& grads, Tensor& state1, Tensor& state2, Tensor& compensation,
                      const ParamSegments& segments, const Tensor& lr, const Tensor& weight_decay, const Tensor& step,
                      const OptimizerHyper& hyper, Context& ctx) {
  const char* op = "optimizer_update";
  check_float(params, op, "params");
  check_on(params, op, "params", ctx);
  check_on(grads, op, "grads", ctx);
  check_same(grads, "grads", params, "params", op);
  GROOVE_CHECK(params.ndim() == 1, op, ": 'params' must be the flat parameter buffer, got ", params.str());
  const int n_states = optim_math::num_states(hyper.kind);
  Tensor* states[2] = {&state1, &state2};
  for (int i = 0; i < 2; ++i) {
    if (i < n_states) {
      check_on(*states[i], op, i ? "state2" : "state1", ctx);
      check_same(*states[i], i ? "state2" : "state1", params, "params", op);
    }
  }
  if (compensation.defined()) {
    check_on(compensation, op, "compensation", ctx);
    check_same(compensation, "compensation", params, "params", op);
    GROOVE_CHECK(params.dtype() == DType::f32, op, ": Kahan compensation is for f32 parameters, got ", params.str());
  }
  for (const Tensor* t : {&lr, &weight_decay}) {
    check_on(*t, op, t == &lr ? "lr" : "weight_decay", ctx);
    GROOVE_CHECK(t->dtype() == DType::f64 && t->ndim() == 1 && t->dim(0) == segments.models, op, ": '",
                 t == &lr ? "lr" : "weight_decay", "' must be f64 [K = ", segments.models, "], got ", t->str());
  }
  check_on(step, op, "step", ctx);
  GROOVE_CHECK(step.dtype() == DType::i32 && step.numel() == 1, op, ": 'step' must be i32 [1], got ", step.str());
  GROOVE_CHECK(segments.count >= 0 && segments.count <= ParamSegments::kMax, op, ": ", segments.count,
               " parameter tensors; at most ", ParamSegments::kMax, " are supported");
  std::int64_t covered = 0;
  for (int i = 0; i < segments.count; ++i) {
    GROOVE_CHECK(segments.offset[i] == covered, op, ": segment ", i, " starts at ", segments.offset[i], ", expected ",
                 covered, " (segments must tile the buffer in order)");
    covered += segments.models * segments.per_model[i];
  }
  GROOVE_CHECK(covered == params.numel(), op, ": segments cover ", covered, " elements but 'params' has ",
               params.numel());
  if (hyper.kind == OptimizerKind::adam || hyper.kind == OptimizerKind::adamw) {
    GROOVE_CHECK(hyper.beta1 > 0 && hyper.beta1 < 1 && hyper.beta2 > 0 && hyper.beta2 < 1, op,
                 ": Adam betas must lie in (0, 1), got ", hyper.beta1, ", ", hyper.beta2);
  }
  if (params.numel() == 0) return;
  GROOVE_DISPATCH_FLOAT(params.dtype(), op, [&] {
    GROOVE_BACKEND(ctx, optimizer_update<T>)
    (params.data<T>(), grads.data<T>(), n_states > 0 ? state1.data<T>() : nullptr,
     n_states > 1 ? state2.data<T>() : nullptr, compensation.defined() ? compensation.data<T>() : nullptr,
     params.numel(), segments, lr.data<double>(), weight_decay.data<double>(), step.data<std::int32_t>(), hyper, ctx);
  });
}

void dropout_forward(Tensor& y, Tensor& mask, const Tensor& x, double p, const Tensor& seeds, std::uint64_t stream,
                     const Tensor& step, Context& ctx) {
  const char* op = "dropout";
  check_on(mask, op, "mask", ctx);
  check_same(mask, "mask", x, "x", op);
  GROOVE_CHECK(p >= 0 && p < 1, op, ": p must lie in [0, 1), got ", p);
  const auto shape = check_per_model_draw(y, x, seeds, step, op, ctx);
  const std::int64_t models = shape.first, per_model = shape.second;
  if (x.numel() == 0) return;
  GROOVE_DISPATCH_FLOAT(x.dtype(), op, [&] {
    GROOVE_BACKEND(ctx, dropout_forward<T>)
    (y.data<T>(), mask.data<T>(), x.data<T>(), models, per_model, static_cast<float>(p), seeds.data<std::int32_t>(),
     stream, step.data<std::int32_t>(), ctx);
  });
}

void add_gaussian_noise(Tensor& y, const Tensor& x, double stddev, const Tensor& seeds, std::uint64_t stream,
                        const Tensor& step, Context& ctx) {
  const char* op = "gaussian_noise";
  GROOVE_CHECK(stddev >= 0, op, ": stddev must be >= 0, got ", stddev);
  const auto shape = check_per_model_draw(y, x, seeds, step, op, ctx);
  const std::int64_t models = shape.first, per_model = shape.second;
  if (x.numel() == 0) return;
  GROOVE_DISPATCH_FLOAT(x.dtype(), op, [&] {
    GROOVE_BACKEND(ctx, add_gaussian_noise<T>)
    (y.data<T>(), x.data<T>(), models, per_model, static_cast<T>(stddev), seeds.data<std::int32_t>(), stream,
     step.data<std::int32_t>(), ctx);
  });
}

void minibatch_indices(Tensor& index, std::int64_t n_examples, const Tensor& seeds, std::uint64_t stream,
                       const Tensor& step, Context& ctx) {
  const char* op = "minibatch_indices";
  check_on(index, op, "index", ctx);
  GROOVE_CHECK(index.dtype() == DType::i32 && index.ndim() == 2, op, ": 'index' must be i32 [K, B], got ", index.str());
  const std::int64_t models = index.dim(0), batch = index.dim(1);
  GROOVE_CHECK(batch >= 1 && batch <= n_examples, op, ": batch size ", batch, " must lie in [1, ", n_examples,
               "] (the number of examples)");
  GROOVE_CHECK(n_examples <= std::numeric_limits<std::int32_t>::max(), op, ": too many examples");
  check_model_rng(seeds, step, models, op, ctx);
  if (index.numel() == 0) return;
  GROOVE_BACKEND(ctx, minibatch_indices)
  (index.data<std::int32_t>(), models, batch, n_examples, seeds.data<std::int32_t>(), stream, step.data<std::int32_t>(),
   ctx);
}

void increment_counter(Tensor& counter, Context& ctx) {
  check_on(counter, "increment_counter", "counter", ctx);
  GROOVE_CHECK(counter.dtype() == DType::i32 && counter.numel() == 1, "increment_counter: needs i32 [1], got ",
               counter.str());
  GROOVE_BACKEND(ctx, increment_counter)(counter.data<std::int32_t>(), ctx);
}

}  // namespace groove::ops
