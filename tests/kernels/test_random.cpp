// CPU random ops: determinism, counter addressing (a draw at an offset is a slice of a longer
// draw), statistics, permutations, and returned block counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/ops.h"
#include "tests/common/test_util.h"

namespace groove {
namespace {

double mean_of(const Tensor& t) {
  double s = 0;
  for (std::int64_t i = 0; i < t.numel(); ++i) s += t.dtype() == DType::f32 ? t.flat<float>(i) : t.flat<double>(i);
  return s / static_cast<double>(t.numel());
}

TEST(Random, DeterministicAndSeedSensitive) {
  Context ctx;
  Tensor a = Tensor::host({1000}, DType::f32), b = a.to(ctx), c = a.to(ctx);
  ops::random_normal(a, RngKey{42, 1, 0}, 0, 1, ctx);
  ops::random_normal(b, RngKey{42, 1, 0}, 0, 1, ctx);
  ops::random_normal(c, RngKey{43, 1, 0}, 0, 1, ctx);
  EXPECT_TRUE(test::bitwise_equal(a, b));
  EXPECT_FALSE(test::bitwise_equal(a, c));
  ops::random_normal(c, RngKey{42, 2, 0}, 0, 1, ctx);
  EXPECT_FALSE(test::bitwise_equal(a, c));
}

TEST(Random, OffsetDrawIsASliceOfALongerDraw) {
  Context ctx;
  Tensor whole = Tensor::host({103}, DType::f32);
  const std::uint64_t used = ops::random_uniform(whole, RngKey{7, 3, 0}, -1, 1, ctx);
  EXPECT_EQ(used, 26u);  // ceil(103 / 4)
  Tensor part = Tensor::host({63}, DType::f32);
  ops::random_uniform(part, RngKey{7, 3, 10}, -1, 1, ctx);  // blocks 10.. = elements 40..
  EXPECT_TRUE(test::bitwise_equal(part, whole.reshape({103}).models(40, 63)));

  Tensor n64 = Tensor::host({9}, DType::f64);
  EXPECT_EQ(ops::random_normal(n64, RngKey{1, 1, 0}, 0, 1, ctx), 5u);
  EXPECT_EQ(ops::random_uniform(n64, RngKey{1, 1, 0}, 0, 1, ctx), 5u);
  EXPECT_EQ(ops::random_bernoulli(n64, RngKey{1, 1, 0}, 0.5, ctx), 3u);
}

TEST(Random, DistributionsHaveTheRightMoments) {
  Context ctx;
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor u = Tensor::host({200000}, dt);
    ops::random_uniform(u, RngKey{5, 0, 0}, 2, 4, ctx);
    EXPECT_NEAR(mean_of(u), 3.0, 0.01);
    Tensor n = Tensor::host({200000}, dt);
    ops::random_normal(n, RngKey{5, 1, 0}, 1.5, 0.5, ctx);
    EXPECT_NEAR(mean_of(n), 1.5, 0.01);
    double var = 0;
    for (std::int64_t i = 0; i < n.numel(); ++i) {
      const double v = dt == DType::f32 ? n.flat<float>(i) : n.flat<double>(i);
      var += (v - 1.5) * (v - 1.5);
    }
    EXPECT_NEAR(var / n.numel(), 0.25, 0.005);
    Tensor b = Tensor::host({200000}, dt);
    ops::random_bernoulli(b, RngKey{5, 2, 0}, 0.3, ctx);
    EXPECT_NEAR(mean_of(b), 0.3, 0.005);
  }
  Tensor bad = Tensor::host({3}, DType::f32);
  EXPECT_THROW(ops::random_uniform(bad, RngKey{}, 1, 1, ctx), Error);
  EXPECT_THROW(ops::random_bernoulli(bad, RngKey{}, 1.5, ctx), Error);
}

TEST(Random, PermutationIsAPermutation) {
  Context ctx;
  for (std::int64_t n : {1, 2, 17, 1000}) {
    Tensor p = Tensor::host({n}, DType::i32);
    ops::random_permutation(p, RngKey{static_cast<std::uint64_t>(n), 0, 0}, ctx);
    std::vector<std::int32_t> v = p.to_vector<std::int32_t>(), sorted = v;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::int32_t> iota(static_cast<std::size_t>(n));
    std::iota(iota.begin(), iota.end(), 0);
    EXPECT_EQ(sorted, iota);
    if (n == 1000) {
      int fixed = 0;
      for (int i = 0; i < n; ++i) fixed += v[static_cast<std::size_t>(i)] == i;
      EXPECT_LT(fixed, 10);  // a real shuffle (expected ~1 fixed point)
      Tensor q = Tensor::host({n}, DType::i32);
      ops::random_permutation(q, RngKey{static_cast<std::uint64_t>(n) + 1, 0, 0}, ctx);
      EXPECT_FALSE(test::bitwise_equal(p, q));
    }
  }
}

}  // namespace
}  // namespace groove
