// groove's ops: one declaration per op, on Tensors, for every backend. Each op validates its
// arguments (a bad shape, dtype or device throws groove::Error naming the argument), then runs
// the CPU kernel (kernels/cpu/) or the CUDA kernel (kernels/cuda/) for the context's device.
// Argument order: outputs, inputs, options, context last. Ops never allocate (beyond the
// context's workspace, which is reused) and never synchronize with the host.
//
// Shapes follow the ensemble-first convention: a leading model dimension K on every model
// tensor. Where an op says "shared", the input may omit K and is used by all models.
//
// Where each op lives (forward / backward / CPU kernel / CUDA kernel / test):
//   gemm                        kernels/cpu/gemm.cpp         kernels/cuda/gemm.cu         tests/kernels/test_gemm.cpp
//   activation, bias_add,       kernels/cpu/elementwise.cpp  kernels/cuda/elementwise.cu  tests/kernels/test_elementwise.cpp
//     bias_activation, activation_backward_from_output, binary, scale, axpy, fill, copy
//   reduce, argmax              kernels/cpu/reduce.cpp       kernels/cuda/reduce.cu       tests/kernels/test_reduce.cpp
//   gather_rows, one_hot        kernels/cpu/index.cpp        kernels/cuda/index.cu        tests/kernels/test_index.cpp
//   random_*                    kernels/cpu/random.cpp       kernels/cuda/random.cu       tests/kernels/test_random.cpp
//   CUDA kernels against their CPU twins: tests/kernels/test_ops_cuda.cpp
// Statistics ops (metrics/), each family in its own header with the same layout:
//   kernels/stats_ops.h  (per-step statistics)   kernels/cpu/stats.cpp  kernels/cuda/stats.cu
//   kernels/svm_ops.h    (SVM dual solver)        kernels/cpu/svm.cpp    kernels/cuda/svm.cu
//   kernels/linalg_ops.h (batched Cholesky, ...)  kernels/cpu/linalg.cpp kernels/cuda/linalg.cu
//   kernels/decode_ops.h (linear decoders)        kernels/cpu/decode.cpp kernels/cuda/decode.cu
//   tests: tests/metrics/test_*.cpp (CPU) and tests/metrics/test_*_cuda.cpp (GPU)
// Per-element math shared by both backends: kernels/math.h (activations, reducers),
// kernels/loss_math.h (loss tails), kernels/optim_math.h (optimizers) and runtime/philox.h.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/loss_math.h"
#include "kernels/math.h"
#include "kernels/optim_math.h"
#include "runtime/context.h"
#include "runtime/philox.h"
#include "runtime/tensor.h"

namespace groove::ops {

// ---------------------------------------------------------------------------------------------
// GEMM

enum class GemmAlgo : std::uint8_t {
  automatic,    // by shape (gemm_algo_for); on a batch-invariant CUDA context, handwritten
  vendor,       // OpenBLAS on the CPU, cuBLAS on CUDA
  handwritten,  // groove's tiled kernel on CUDA; the double-accumulating reference loop on the CPU
};

struct GemmOptions {
  bool trans_a = false;
  bool trans_b = false;
  double alpha = 1.0;
  double beta = 0.0;  // 0: c is write-only (its old contents, even NaN, are ignored)
  GemmAlgo algo = GemmAlgo::automatic;
};

// c[k] = alpha * op(a[k]) @ op(b[k]) + beta * c[k] for every model k, with op(x) = x or x^T.
//   a: [K, M, Ka] ([K, Ka, M] when trans_a), or shared [M, Ka] ([Ka, M])
//   b: [K, Ka, N] ([K, N, Ka] when trans_b), or shared [Ka, N] ([N, Ka])
//   c: [K, M, N]; [M, N] when both a and b are shared.
// f32 or f64, all of one dtype. A shared b with an untransposed batched a runs as one GEMM of
// K*M rows. The CPU runs the K products in parallel with OpenMP (single-threaded BLAS inside).
void gemm(Tensor& c, const Tensor& a, const Tensor& b, const GemmOptions& options, Context& ctx);

// The algorithm `automatic` picks on a backend for one product of these sizes.
GemmAlgo gemm_algo_for(Device device, std::int64_t m, std::int64_t n, std::int64_t k);

// ---------------------------------------------------------------------------------------------
// Elementwise

Activation parse_activation(const std::string& name);  // "relu", "leaky_relu" / "leaky-relu", ...
const char* activation_name(Activation a);

// y = phi(x), any shape; y may alias x. `slope`: negative-side slope of leaky_relu.
void activation_forward(Tensor& y, const Tensor& x, Activation act, Context& ctx, double slope = 0.01);
// dx = dy * phi'(x), or dx += dy * phi'(x) when accumulate (gradients accumulate).
void activation_backward(Tensor& dx, const Tensor& dy, const Tensor& x, Activation act, bool accumulate, Context& ctx,
                         double slope = 0.01);

// y[k, ..., n] = x[k, ..., n] + bias[k, n]; bias may be shared [N]. x: [K, rows..., N]; y may alias x.
void bias_add(Tensor& y, const Tensor& x, const Tensor& bias, Context& ctx);

// The fused tail of a dense layer (nn::linear with an activation), in place on y [K, rows..., N]:
//   y = phi(y + bias[k, n]); bias [K, N], shared [N] or undefined (no bias).
// One pass instead of bias_add + activation_forward. Any activation.
void bias_activation(Tensor& y, const Tensor& bias, Activation act, Context& ctx, double slope = 0.01);
// Its backward, from the layer's output y = phi(z) (no pre-activation kept): for activations with
// activation_derivative_from_output_exact(act, slope) only (else an error naming the activation),
//   dz = dy * phi'(z)                  (dz += ... when accumulate_dz)
//   dbias[k, n] = sum over rows of dy * phi'(z)   (+= when accumulate_dbias; skipped when
//                                                   dbias is undefined): CPU: partial sums of
//                                                   16 rows in T added in double; CUDA: double
//                                                   sums over 8 strided row groups.
// One pass over dy and y instead of activation_backward + the bias gradient's reduction. The sum
// over rows runs in a fixed order per (model, column), the same for any K (batch-invariant).
// dz may alias dy.
void activation_backward_from_output(Tensor& dz, Tensor& dbias, const Tensor& dy, const Tensor& y, Activation act,
                                     bool accumulate_dz, bool accumulate_dbias, Context& ctx, double slope = 0.01);

// z = x op y elementwise (same shapes); z may alias x or y.
void binary(Tensor& z, const Tensor& x, const Tensor& y, BinaryOp op, Context& ctx);

// y = alpha * x (scalar alpha), or y[k, ...] = alpha[k] * x[k, ...] with a per-model [K] alpha on
// the device (hyperparameters live on the device). y may alias x.
void scale(Tensor& y, const Tensor& x, double alpha, Context& ctx);
void scale(Tensor& y, const Tensor& x, const Tensor& alpha_per_model, Context& ctx);
// y += alpha * x, or y[k, ...] += alpha[k] * x[k, ...].
void axpy(Tensor& y, const Tensor& x, double alpha, Context& ctx);
void axpy(Tensor& y, const Tensor& x, const Tensor& alpha_per_model, Context& ctx);

// y = value everywhere (any dtype).
void fill(Tensor& y, double value, Context& ctx);
// dst = src (same shape and dtype, both on the context's device).
void copy(Tensor& dst, const Tensor& src, Context& ctx);
// dst = src converted to dst's dtype (f32 <-> f64, or the same dtype: a copy); same shape.
void convert(Tensor& dst, const Tensor& src, Context& ctx);

// ---------------------------------------------------------------------------------------------
// Reductions (fixed order: deterministic, no atomics; sums accumulate in double)

// out = reduction of x along `axis` (negative counts from the end); out has x's shape without
// that axis. max propagates NaN; max over an empty axis is an error.
void reduce(Tensor& out, const Tensor& x, int axis, ReduceOp op, Context& ctx);
// out (i32) = index of the maximum along `axis`: the first maximum, or the first NaN if any.
void argmax(Tensor& out, const Tensor& x, int axis, Context& ctx);

// ---------------------------------------------------------------------------------------------
// Indexing

// y[k, i, :] = x[k, index[i], :] (index shared [M]) or x[k, index[k, i], :] (index [K, M]).
//   x: [K, P, D] or shared [P, D];  y: [K, M, D] ([M, D] when x and index are shared).
// Index values must lie in [0, P): the CPU backend throws naming the first bad one; the CUDA
// backend cannot report from the device and writes NaN (0 for i32) rows instead.
void gather_rows(Tensor& y, const Tensor& x, const Tensor& index, Context& ctx);
// y[..., c] = (labels[...] == c) for c < C, y: [..., C] (f32/f64), labels i32. A label outside
// [0, C) gives an all-zero row (loaders validate labels where they enter).
void one_hot(Tensor& y, const Tensor& labels, Context& ctx);

// ---------------------------------------------------------------------------------------------
// Random numbers (Philox-4x32-10, runtime/philox.h). Element i is drawn from counter block
// key.offset + i / per_block, so results are identical on every backend and thread layout.
// Each returns the number of counter blocks used: the next independent draw on the same stream
// starts at key.offset + that.

std::uint64_t random_uniform(Tensor& y, const RngKey& key, double lo, double hi, Context& ctx);  // (lo, hi)
std::uint64_t random_normal(Tensor& y, const RngKey& key, double mean, double stddev, Context& ctx);
std::uint64_t random_bernoulli(Tensor& y, const RngKey& key, double p, Context& ctx);  // 1 w.p. p, else 0
// y (i32, [n]) = a uniformly random permutation of 0..n-1.
std::uint64_t random_permutation(Tensor& y, const RngKey& key, Context& ctx);

// ---------------------------------------------------------------------------------------------
// Training: losses, optimizer updates, per-model randomness inside a replayed step.
//
// Inside a step that is replayed (or captured in a CUDA graph) nothing may come from the host, so
// per-model seeds live in a device i32 [K] tensor and the step number in a device i32 [1]
// counter that `increment_counter` advances at the end of each step. Draws of model k depend only
// on (seed[k], stream, step, element index within the model), never on K or the backend.

struct LossSpec {
  LossKind kind = LossKind::softmax_cross_entropy;
  double margin = 1.0;  // hinge
};

// Mean loss per model, its log10, and the gradient of the mean loss with respect to the logits.
//   logits: [K, P, C]  (C = 1: binary logistic / hinge on a scalar output, labels +-1 or 0/1;
//                        C >= 2: softmax cross-entropy / multi-class hinge, labels in [0, C))
//   labels: i32 [P] (shared) or [K, P]; undefined for squared error with real targets
//   targets: [P, C] or [K, P, C] (squared error only; when undefined, squared error targets the
//            one-hot labels, or +-1 for C = 1)
//   weights: per-example [P] (class balancing) or undefined (all 1). The mean is weighted:
//            L = sum_p w_p l_p / sum_p w_p; `weight_sum` must be sum_p w_p (P without weights).
//   loss, log10_loss: [K];  dlogits: [K, P, C] or undefined (forward only)
//   per_example: f64 [2, K, P] scratch that receives each example's loss (row 0) and its natural
//                log (row 1), for the statistics the metrics read.
// The tail is exact: see kernels/loss_math.h. log10_loss is averaged in log space, so it stays
// finite where the loss underflows.
void loss_forward(Tensor& loss, Tensor& log10_loss, Tensor& dlogits, Tensor& per_example, const Tensor& logits,
                  const Tensor& labels, const Tensor& targets, const Tensor& weights, double weight_sum,
                  const LossSpec& spec, Context& ctx);

// Parameters live in one flat buffer; each segment is one parameter tensor [K, per_model]
// starting at `offset`. One kernel updates every parameter of every model.
struct ParamSegments {
  static constexpr int kMax = 32;
  int count = 0;
  std::int64_t models = 1;
  std::int64_t offset[kMax] = {};
  std::int64_t per_model[kMax] = {};
};

// params += update(grads) for all segments: SGD / momentum / Nesterov / Adam / AdamW with the
// per-model learning rate lr[k] and weight decay weight_decay[k] (f64 [K] on the device), the
// schedule evaluated at the device step counter (i32 [1]: updates done so far). state1/state2:
// optimizer states (same shape as params; undefined when the optimizer needs none).
// compensation: Kahan buffer for Precision::fp32_kahan, undefined otherwise.
void optimizer_update(Tensor& params, const Tensor& grads, Tensor& state1, Tensor& state2, Tensor& compensation,
                      const ParamSegments& segments, const Tensor& lr, const Tensor& weight_decay, const Tensor& step,
                      const OptimizerHyper& hyper, Context& ctx);

// Inverted dropout over x [K, ...]: y = x * mask, mask = 1/(1-p) with probability 1-p, else 0.
// The mask is kept for the backward pass (dx = dy * mask).
void dropout_forward(Tensor& y, Tensor& mask, const Tensor& x, double p, const Tensor& seeds, std::uint64_t stream,
                     const Tensor& step, Context& ctx);
// y = x + stddev * N(0, 1), over x [K, ...].
void add_gaussian_noise(Tensor& y, const Tensor& x, double stddev, const Tensor& seeds, std::uint64_t stream,
                        const Tensor& step, Context& ctx);
// index [K, B] (i32): the examples of minibatch `step` for each model: epoch e = step / (n / B)
// walks a fresh random permutation of [0, n) per model and epoch; the last partial batch of an
// epoch is dropped.
void minibatch_indices(Tensor& index, std::int64_t n_examples, const Tensor& seeds, std::uint64_t stream,
                       const Tensor& step, Context& ctx);
// counter[0] += 1 on the device (i32 [1]).
void increment_counter(Tensor& counter, Context& ctx);

}  // namespace groove::ops
