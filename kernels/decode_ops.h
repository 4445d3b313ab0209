// Batched binary linear decoders: ops::fit_linear_decoders fits one LDA, linear SVM or logistic
// regression per model (K models, e.g. sessions x folds x label permutations) on the trials of its
// session and scores every trial, on the context's device (CPU: one model per OpenMP iteration,
// kernels/cpu/decode.cpp; CUDA: one thread per model, kernels/cuda/decode.cu; no host
// synchronization). The whole per-model fit, its definitions (equal to scikit-learn's estimators
// at the optimum) and the solvers are written once in kernels/decode_math.h (GROOVE_HD).
// Tests: tests/kernels/test_decode.cpp, test_decode_cuda.cpp, tests/peers/decode_peer.py.
#pragma once

#include <groove/config.h>

#include <cstddef>
#include <cstdint>

#include "kernels/decode_math.h"
#include "runtime/context.h"
#include "runtime/tensor.h"

namespace groove::ops {

enum class DecoderKind : std::uint8_t { lda, svm, logistic };
inline constexpr const char* kDecoderNames[] = {"lda", "svm", "logistic"};

struct DecoderSpec {
  DecoderKind kind = DecoderKind::lda;
  double shrinkage = 0.0;  // lda: alpha in [0, 1]
  double c = 1.0;          // svm, logistic: sklearn's C (> 0)
  // svm, logistic: the most Newton steps (>= 1); info 1 when reached before tol.
  std::int64_t max_iter = 1000;
  // svm, logistic: converged when every gradient component of the objective (decode_math.h) satisfies
  // |g_j| <= tol * max(1, c * sum_t train_t |x_tj|) (for the bias: c * sum_t train_t); >= 0.
  double tol = 1e-8;
};

// Fits one binary linear decoder per model k (K models) and scores every trial of its session.
//   x        f64 [S, T, F]  responses of S sessions padded to T trials and F features (values beyond a
//                           session's feature count are never read)
//   features i32 [S]        features used by session s, 1..F (only x[s, :, :features[s]] is read)
//   session  i32 [K]        session of model k, in [0, S)
//   train    f64 [K, T]     training weight of each trial for model k (>= 0, finite; 0 = not in the
//                           training set; weights act as repetition counts / sklearn sample_weight)
//   labels   i32 [K, T]     0/1 class of each trial for model k (read only where train > 0)
// Outputs (all written for every model, also on failure — then the whole weights row and the scores
// are NaN):
//   weights  f64 [K, F + 1] w (entries >= features[s] are 0) then the bias b in column F
//   scores   f64 [K, T]     x_t . w + b for every trial t of the model's session (test trials included)
//   info     i32 [K]        0 ok; 1 not converged within max_iter (results still written); 2 LDA covariance
//                           not positive definite (NaN); 3 a class has no training weight (NaN);
//                           4 bad input (NaN): a train weight < 0, NaN or inf, a label other than 0/1 on a
//                           training trial, or (CUDA only: the CPU op throws) a session / features value
//                           out of range
// The decoders (decode_math.h): lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=alpha),
// svm = LinearSVC(C=c, loss="squared_hinge", dual=True) (bias penalized, as LIBLINEAR's constant
// feature), logistic = LogisticRegression(C=c, penalty="l2") (bias not penalized). Each model's
// results are bitwise independent of the other models in the batch, of the labels and features of
// trials with train = 0 and of the padding. Only the spec fields of the chosen kind are validated.
void fit_linear_decoders(Tensor& weights, Tensor& scores, Tensor& info, const Tensor& x, const Tensor& features,
                         const Tensor& session, const Tensor& train, const Tensor& labels, const DecoderSpec& spec,
                         Context& ctx);

// The CUDA kernel runs the models in chunks whose scratch fits a workspace budget (default 256 MiB;
// at least one model per chunk). set_decoder_workspace_budget changes it (for tests of the
// chunking) and returns the previous value; decoder_chunk_models is the chunk size for F features
// and T trials under the current budget. The CPU needs scratch for one model per thread only.
std::size_t set_decoder_workspace_budget(std::size_t bytes);
std::int64_t decoder_chunk_models(std::int64_t features, std::int64_t trials);

}  // namespace groove::ops

namespace groove {

// The raw entry points (pointers on the context's device, sizes in decode::Batch).
namespace cpu {
void fit_linear_decoders(const decode::Batch& b, const decode::Params& p, Context& ctx);
}  // namespace cpu

#if GROOVE_WITH_CUDA
namespace cuda {
void fit_linear_decoders(const decode::Batch& b, const decode::Params& p, Context& ctx);
}  // namespace cuda
#endif

}  // namespace groove
