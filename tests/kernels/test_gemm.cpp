// CPU GEMM: OpenBLAS (vendor) against the double-accumulating reference loop, over transposes,
// batched and shared operands, alpha/beta; plus a hand-checked product and argument errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/ops.h"
#include "tests/common/test_util.h"

namespace groove {
namespace {

using ops::GemmAlgo;
using ops::GemmOptions;

struct GemmCase {
  std::int64_t batch, m, n, k;
  bool ta, tb, shared_a, shared_b;
};

Shape a_shape(const GemmCase& c) {
  const Shape s = c.ta ? Shape{c.k, c.m} : Shape{c.m, c.k};
  return c.shared_a ? s : s.with_front(c.batch);
}
Shape b_shape(const GemmCase& c) {
  const Shape s = c.tb ? Shape{c.n, c.k} : Shape{c.k, c.n};
  return c.shared_b ? s : s.with_front(c.batch);
}
Shape c_shape(const GemmCase& c) {
  return (c.shared_a && c.shared_b) ? Shape{c.m, c.n} : Shape{c.batch, c.m, c.n};
}

class GemmCpu : public ::testing::TestWithParam<DType> {};

TEST_P(GemmCpu, VendorMatchesReference) {
  const DType dt = GetParam();
  Context ctx;
  int seed = 1;
  for (std::int64_t batch : {1, 3}) {
    for (auto [m, n, k] : {std::tuple{1, 1, 1}, {7, 5, 3}, {65, 33, 17}, {128, 96, 200}}) {
      for (int flags = 0; flags < 16; ++flags) {
        const GemmCase c{batch, m, n, k, bool(flags & 1), bool(flags & 2), bool(flags & 4), bool(flags & 8)};
        Tensor a = test::random_tensor(a_shape(c), dt, ++seed);
        Tensor b = test::random_tensor(b_shape(c), dt, ++seed);
        Tensor c0 = test::random_tensor(c_shape(c), dt, ++seed);
        Tensor c_vendor = c0.to(ctx), c_ref = c0.to(ctx);
        GemmOptions o;
        o.trans_a = c.ta;
        o.trans_b = c.tb;
        o.alpha = 0.75;
        o.beta = -0.5;
        o.algo = GemmAlgo::vendor;
        ops::gemm(c_vendor, a, b, o, ctx);
        o.algo = GemmAlgo::handwritten;
        ops::gemm(c_ref, a, b, o, ctx);
        const auto tol = test::default_tolerance(dt);
        EXPECT_TRUE(test::all_close(c_vendor, c_ref, tol.atol * k, tol.rtol))
            << "batch " << batch << " m " << m << " n " << n << " k " << k << " ta " << c.ta << " tb " << c.tb
            << " shared a " << c.shared_a << " shared b " << c.shared_b;
      }
    }
  }
}

TEST_P(GemmCpu, BatchedEqualsPerModelProducts) {
  // The shared-b fast path (one GEMM of K*M rows) must equal K separate products.
  const DType dt = GetParam();
  Context ctx;
  Tensor a = test::random_tensor({4, 9, 6}, dt, 11);
  Tensor b = test::random_tensor({6, 5}, dt, 12);
  Tensor c = Tensor::empty({4, 9, 5}, dt, ctx);
  ops::gemm(c, a, b, {}, ctx);
  for (int k = 0; k < 4; ++k) {
    Tensor ck = Tensor::empty({9, 5}, dt, ctx);
    ops::gemm(ck, a.model(k), b, {}, ctx);
    EXPECT_TRUE(test::all_close(c.model(k), ck)) << "model " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, GemmCpu, ::testing::Values(DType::f32, DType::f64),
                         [](const auto& param_info) { return std::string(dtype_name(param_info.param)); });

TEST(Gemm, HandCheckedProduct) {
  Context ctx;
  // [1 2; 3 4] @ [5 6; 7 8] = [19 22; 43 50]
  Tensor a = Tensor::from_vector<double>({2, 2}, {1, 2, 3, 4});
  Tensor b = Tensor::from_vector<double>({2, 2}, {5, 6, 7, 8});
  Tensor c = Tensor::host({2, 2}, DType::f64);
  for (GemmAlgo algo : {GemmAlgo::vendor, GemmAlgo::handwritten}) {
    GemmOptions o;
    o.algo = algo;
    ops::gemm(c, a, b, o, ctx);
    EXPECT_EQ(c.to_vector<double>(), (std::vector<double>{19, 22, 43, 50}));
    o.trans_a = true;  // [1 3; 2 4] @ B = [26 30; 38 44]
    ops::gemm(c, a, b, o, ctx);
    EXPECT_EQ(c.to_vector<double>(), (std::vector<double>{26, 30, 38, 44}));
  }
}

TEST(Gemm, BetaZeroIgnoresNaNInOutput) {
  // Inner dimension 4 (groove's small-k loop) and 40 (the linked BLAS, which must honour
  // beta == 0 by itself: groove does not zero c first), every transpose.
  Context ctx;
  for (GemmAlgo algo : {GemmAlgo::vendor, GemmAlgo::handwritten}) {
    for (std::int64_t k : {4, 40}) {
      for (int t = 0; t < 4; ++t) {
        GemmOptions o;
        o.algo = algo;
        o.trans_a = t & 1;
        o.trans_b = t & 2;
        Tensor a = test::random_tensor(o.trans_a ? Shape{2, k, 8} : Shape{2, 8, k}, DType::f32, 1);
        Tensor b = test::random_tensor(o.trans_b ? Shape{2, 3, k} : Shape{2, k, 3}, DType::f32, 2);
        Tensor c = Tensor::host({2, 8, 3}, DType::f32);
        for (std::int64_t i = 0; i < c.numel(); ++i) c.flat<float>(i) = std::numeric_limits<float>::quiet_NaN();
        ops::gemm(c, a, b, o, ctx);
        for (std::int64_t i = 0; i < c.numel(); ++i) ASSERT_TRUE(std::isfinite(c.flat<float>(i))) << i << " k " << k;
      }
    }
  }
}

TEST(Gemm, SmallInnerDimensionMatchesTheReference) {
  // k <= 8 with b untransposed takes groove's rank-k loop instead of BLAS: every k, both a
  // layouts, batched and shared operands, alpha and beta (0, 1 and other), f32 and f64.
  Context ctx;
  for (DType dt : {DType::f32, DType::f64}) {
    for (std::int64_t k = 1; k <= 9; ++k) {
      for (bool ta : {false, true}) {
        for (double beta : {0.0, 1.0, -0.5}) {
          GemmOptions o;
          o.trans_a = ta;
          o.alpha = 0.75;
          o.beta = beta;
          const std::int64_t batch = 3, m = 37, n = 131;
          Tensor a = test::random_tensor(ta ? Shape{batch, k, m} : Shape{batch, m, k}, dt, 10 + k);
          Tensor b = test::random_tensor({batch, k, n}, dt, 20 + k);
          Tensor c0 = test::random_tensor({batch, m, n}, dt, 30 + k);
          Tensor fast = c0.to(ctx), ref = c0.to(ctx);
          ops::gemm(fast, a, b, o, ctx);
          o.algo = GemmAlgo::handwritten;
          ops::gemm(ref, a, b, o, ctx);
          const double tol = dt == DType::f32 ? 1e-5 : 1e-13;
          EXPECT_TRUE(test::all_close(fast, ref, tol, tol)) << "k " << k << " ta " << ta << " beta " << beta;
        }
      }
    }
  }
}

TEST(Gemm, EmptyInnerDimensionScalesOutput) {
  Context ctx;
  Tensor a = Tensor::host({3, 0}, DType::f64), b = Tensor::host({0, 2}, DType::f64);
  Tensor c = Tensor::from_vector<double>({3, 2}, {1, 2, 3, 4, 5, 6});
  GemmOptions o;
  o.beta = 2.0;
  ops::gemm(c, a, b, o, ctx);
  EXPECT_EQ(c.to_vector<double>(), (std::vector<double>{2, 4, 6, 8, 10, 12}));
}

TEST(Gemm, ArgumentErrorsNameTheProblem) {
  Context ctx;
  Tensor a = Tensor::host({2, 3, 4}, DType::f32), b = Tensor::host({2, 5, 6}, DType::f32);
  Tensor c = Tensor::host({2, 3, 6}, DType::f32);
  try {
    ops::gemm(c, a, b, {}, ctx);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("inner dimensions differ"), std::string::npos) << e.what();
  }
  Tensor b_ok = Tensor::host({2, 4, 6}, DType::f32);
  Tensor c_bad = Tensor::host({2, 3, 7}, DType::f32);
  EXPECT_THROW(ops::gemm(c_bad, a, b_ok, {}, ctx), Error);
  Tensor b_f64 = Tensor::host({2, 4, 6}, DType::f64);
  EXPECT_THROW(ops::gemm(c, a, b_f64, {}, ctx), Error);
  Tensor b_batch = Tensor::host({3, 4, 6}, DType::f32);
  EXPECT_THROW(ops::gemm(c, a, b_batch, {}, ctx), Error);
  Tensor ai = Tensor::host({3, 4}, DType::i32), bi = Tensor::host({4, 6}, DType::i32),
         ci = Tensor::host({3, 6}, DType::i32);
  EXPECT_THROW(ops::gemm(ci, ai, bi, {}, ctx), Error);
  Tensor sq = Tensor::host({4, 4}, DType::f32);
  EXPECT_THROW(ops::gemm(sq, sq, sq, {}, ctx), Error);  // output aliases input
}

TEST(Gemm, AlgorithmChoice) {
  EXPECT_EQ(ops::gemm_algo_for(Device::cpu(), 8, 8, 8), GemmAlgo::vendor);
  EXPECT_EQ(ops::gemm_algo_for(Device::cuda(0), 8, 8, 8), GemmAlgo::handwritten);
  EXPECT_EQ(ops::gemm_algo_for(Device::cuda(0), 512, 1024, 128), GemmAlgo::vendor);
}

}  // namespace
}  // namespace groove
