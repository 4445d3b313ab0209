// The CUDA decoders (kernels/cuda/decode.cu, one thread per model) against the CPU twin on random
// problems, for every decoder: both run decode::fit_model (kernels/decode_math.h) and differ only
// where the CUDA compiler fuses a multiply and an add, so LDA agrees to ~1e-10 relative and the
// Newton solvers (run to a tight tol) to ~1e-8. Includes K larger than one chunk of the device
// workspace, several thread blocks, info codes and the bad-index reports of the device (info 4).
// Skipped with a message when no GPU is usable.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "kernels/decode_ops.h"
#include "tests/common/test_util.h"
#include "tests/kernels/decode_problems.h"

namespace groove {
namespace {

using test::DecodeProblem;
using test::DecodeResult;
using test::GpuTest;
using test::make_decode_problem;
using test::run_decoders;
using test::TrainWeights;

ops::DecoderSpec spec_of(ops::DecoderKind kind, double shrinkage_or_c, double tol = 1e-12) {
  ops::DecoderSpec s;
  s.kind = kind;
  if (kind == ops::DecoderKind::lda) {
    s.shrinkage = shrinkage_or_c;
  } else {
    s.c = shrinkage_or_c;
  }
  s.tol = tol;
  return s;
}

// Weights and scores agree to rtol relative to each model's largest |weight| (resp. |score|).
void expect_match(const DecodeResult& g, const DecodeResult& c, const DecodeProblem& p, double rtol, const char* what) {
  EXPECT_TRUE(test::bitwise_equal(g.info, c.info)) << what;
  double worst = 0;
  for (std::int64_t k = 0; k < p.K; ++k) {
    for (const auto& [gt, ct] :
         {std::pair{g.weights.model(k), c.weights.model(k)}, std::pair{g.scores.model(k), c.scores.model(k)}}) {
      double scale = 0;
      for (std::int64_t e = 0; e < ct.numel(); ++e) scale = std::max(scale, std::fabs(ct.value(e)));
      for (std::int64_t e = 0; e < ct.numel(); ++e) {
        const double a = gt.value(e), b = ct.value(e);
        if (std::isnan(a) && std::isnan(b)) continue;
        const double err = std::fabs(a - b) / scale;
        worst = std::max(worst, err);
        ASSERT_LE(err, rtol) << what << ": model " << k << " element " << e << " gpu " << a << " cpu " << b;
      }
    }
  }
  std::printf("%s: K = %lld, max relative difference GPU vs CPU %.3g\n", what, static_cast<long long>(p.K), worst);
}

class DecodeCuda : public GpuTest {};

TEST_F(DecodeCuda, MatchesCpuForEveryDecoder) {
  struct Case {
    ops::DecoderSpec spec;
    double rtol;
    const char* name;
  };
  const Case cases[] = {
      {spec_of(ops::DecoderKind::lda, 0.0), 1e-10, "lda alpha 0"},
      {spec_of(ops::DecoderKind::lda, 0.35), 1e-10, "lda alpha 0.35"},
      {spec_of(ops::DecoderKind::svm, 0.05), 1e-8, "svm C 0.05"},
      {spec_of(ops::DecoderKind::svm, 20.0), 1e-8, "svm C 20"},
      {spec_of(ops::DecoderKind::logistic, 0.1), 1e-8, "logistic C 0.1"},
      {spec_of(ops::DecoderKind::logistic, 50.0), 1e-8, "logistic C 50"},
  };
  // K = 7 * 5 * 9 = 315 models: several blocks of 128 threads, label permutations, odd sizes.
  const DecodeProblem p = make_decode_problem(7, 83, 13, 7 * 5 * 9, 101, TrainWeights::fractional);
  for (const Case& c : cases) {
    const DecodeResult cpu_r = run_decoders(p, c.spec, *cpu);
    const DecodeResult gpu_r = run_decoders(p, c.spec, *gpu);
    for (std::int64_t k = 0; k < p.K; ++k) ASSERT_EQ(cpu_r.info.flat<std::int32_t>(k), 0) << c.name << " " << k;
    expect_match(gpu_r, cpu_r, p, c.rtol, c.name);
  }
}

TEST_F(DecodeCuda, ChunksOfTheWorkspace) {
  const DecodeProblem p = make_decode_problem(5, 40, 6, 5 * 5 * 4, 102, TrainWeights::integer);
  // a budget of 7 models per chunk: 100 models in 15 chunks, the last one partial
  const std::size_t per = static_cast<std::size_t>(decode::scratch_doubles(p.F, p.T)) * sizeof(double);
  const std::size_t old = ops::set_decoder_workspace_budget(7 * per);
  ASSERT_EQ(ops::decoder_chunk_models(p.F, p.T), 7);
  for (const ops::DecoderSpec& spec : {spec_of(ops::DecoderKind::lda, 0.1), spec_of(ops::DecoderKind::svm, 1.0),
                                       spec_of(ops::DecoderKind::logistic, 1.0)}) {
    const DecodeResult chunked = run_decoders(p, spec, *gpu);
    ops::set_decoder_workspace_budget(old);
    const DecodeResult whole = run_decoders(p, spec, *gpu);
    ops::set_decoder_workspace_budget(7 * per);
    const DecodeResult cpu_r = run_decoders(p, spec, *cpu);
    // the chunk layout changes only addresses: bitwise equal
    EXPECT_TRUE(test::bitwise_equal(chunked.weights, whole.weights)) << ops::kDecoderNames[int(spec.kind)];
    EXPECT_TRUE(test::bitwise_equal(chunked.scores, whole.scores)) << ops::kDecoderNames[int(spec.kind)];
    expect_match(chunked, cpu_r, p, spec.kind == ops::DecoderKind::lda ? 1e-10 : 1e-8,
                 ops::kDecoderNames[int(spec.kind)]);
  }
  ops::set_decoder_workspace_budget(old);
}

TEST_F(DecodeCuda, InfoCodesAndBadIndices) {
  DecodeProblem p = make_decode_problem(2, 30, 4, 6, 103);
  for (std::int64_t t = 0; t < p.T; ++t) {
    if (p.train.flat<double>(1 * p.T + t) > 0) p.labels.flat<std::int32_t>(1 * p.T + t) = 0;
  }
  p.labels.flat<std::int32_t>(2 * p.T + 3) = -1;
  p.train.flat<double>(3 * p.T + 3) = -2.0;
  const DecodeResult cpu_r = run_decoders(p, spec_of(ops::DecoderKind::logistic, 1.0), *cpu);
  const DecodeResult gpu_r = run_decoders(p, spec_of(ops::DecoderKind::logistic, 1.0), *gpu);
  EXPECT_EQ(cpu_r.info.to_vector<std::int32_t>(), (std::vector<std::int32_t>{0, 3, 4, 4, 0, 0}));
  expect_match(gpu_r, cpu_r, p, 1e-8, "info codes");
  // out-of-range indices: the CPU op throws, the device reports info 4 with NaN outputs
  p.session = Tensor::from_vector<std::int32_t>({6}, {0, 1, 2, -1, 0, 1});
  p.features = Tensor::from_vector<std::int32_t>({2}, {4, 5});
  const DecodeResult bad = run_decoders(p, spec_of(ops::DecoderKind::lda, 0.0), *gpu);
  EXPECT_EQ(bad.info.to_vector<std::int32_t>(), (std::vector<std::int32_t>{0, 4, 4, 4, 0, 4}));
  for (std::int64_t k : {1, 2, 3, 5}) {
    for (std::int64_t t = 0; t < p.T; ++t) EXPECT_TRUE(std::isnan(bad.scores.flat<double>(k * p.T + t)));
  }
}

}  // namespace
}  // namespace groove
