// ops::svm_dual_solve: validation (errors name the argument) and dispatch to the CPU or CUDA kernel.
#include "kernels/svm_ops.h"

#include <groove/config.h>

#include <algorithm>
#include <cmath>

#include "kernels/validate.h"

namespace groove::ops {

namespace {
constexpr const char* kOp = "svm_dual_solve";

void check_tensor_on(const Tensor& t, const char* name, DType dtype, const Context& ctx) {
  detail::check_dtype_on(t, kOp, name, dtype, ctx);
}

void check_shape_is(const Tensor& t, const char* name, const Shape& expected, const Tensor& gram) {
  GROOVE_CHECK(t.shape() == expected, kOp, ": '", name, "' has shape ", t.shape().str(), ", expected ", expected.str(),
               " for a gram of shape ", gram.shape().str());
}
}  // namespace

std::int64_t svm_default_max_iter(std::int64_t examples) {
  return std::min<std::int64_t>(std::max<std::int64_t>(1000000, 100 * examples), std::int64_t(2147483647));
}

void svm_dual_solve(Tensor& alpha, Tensor& bias, Tensor& info, Tensor& summary, const Tensor& gram, const Tensor& y,
                    const SvmSolveOptions& options, Context& ctx) {
  check_tensor_on(gram, "gram", DType::f64, ctx);
  GROOVE_CHECK(gram.ndim() == 3 && gram.dim(1) == gram.dim(2), kOp, ": 'gram' must be [K, P, P], got ", gram.str());
  const std::int64_t models = gram.dim(0), examples = gram.dim(1);
  GROOVE_CHECK(examples <= 2147483647 && models <= 2147483647, kOp, ": 'gram' ", gram.str(),
               " is too large (K and P must be < 2^31)");
  check_tensor_on(y, "y", DType::f64, ctx);
  GROOVE_CHECK(y.shape() == Shape({models, examples}) || y.shape() == Shape({examples}), kOp, ": 'y' has shape ",
               y.shape().str(), ", expected [", models, ", ", examples, "] or shared [", examples,
               "] for a gram of shape ", gram.shape().str());
  check_tensor_on(alpha, "alpha", DType::f64, ctx);
  check_shape_is(alpha, "alpha", {models, examples}, gram);
  check_tensor_on(bias, "bias", DType::f64, ctx);
  check_shape_is(bias, "bias", {models}, gram);
  check_tensor_on(info, "info", DType::i32, ctx);
  check_shape_is(info, "info", {models, 2}, gram);
  if (summary.defined()) {
    check_tensor_on(summary, "summary", DType::f64, ctx);
    check_shape_is(summary, "summary", {models, svm::kSummaryColumns}, gram);
  }
  const Tensor* outputs[] = {&alpha, &bias, &info, &summary};
  const char* output_names[] = {"alpha", "bias", "info", "summary"};
  for (int o = 0; o < 4; ++o) {
    for (const auto& [input, input_name] : {std::pair{&gram, "gram"}, std::pair{&y, "y"}}) {
      GROOVE_CHECK(!outputs[o]->shares_storage_with(*input), kOp, ": the output '", output_names[o],
                   "' must not share memory with the input '", input_name, "'");
    }
    for (int p = o + 1; p < 4; ++p) {
      GROOVE_CHECK(!outputs[o]->defined() || !outputs[o]->shares_storage_with(*outputs[p]), kOp, ": the outputs '",
                   output_names[o], "' and '", output_names[p], "' must not share memory");
    }
  }
  GROOVE_CHECK(options.c > 0 && !std::isnan(options.c), kOp, ": options.c must be > 0 (inf: hard margin), got ",
               options.c);
  GROOVE_CHECK(options.tol > 0 && std::isfinite(options.tol), kOp, ": options.tol must be finite and > 0, got ",
               options.tol);
  GROOVE_CHECK(options.max_iter >= 0 && options.max_iter <= 2147483647, kOp,
               ": options.max_iter must be in [0, 2^31 - 1] (0: default), got ", options.max_iter);
  GROOVE_CHECK(options.resolution >= 0 && std::isfinite(options.resolution), kOp,
               ": options.resolution must be finite and >= 0, got ", options.resolution);
  for (double f : options.closest_fractions) {
    GROOVE_CHECK(f > 0 && f <= 1, kOp, ": options.closest_fractions must lie in (0, 1], got ", f);
  }
  if (models == 0 || examples == 0) return;

  SvmShape s;
  s.models = models;
  s.examples = examples;
  s.y_model_stride = y.ndim() == 2 ? examples : 0;
  SvmSolveOptions resolved = options;
  if (resolved.max_iter == 0) resolved.max_iter = svm_default_max_iter(examples);
  double* summary_ptr = summary.defined() ? summary.data<double>() : nullptr;
  GROOVE_BACKEND(ctx, svm_dual_solve)
  (alpha.data<double>(), bias.data<double>(), info.data<std::int32_t>(), summary_ptr, gram.data<double>(),
   y.data<double>(), s, resolved, ctx);
}

}  // namespace groove::ops
