// Tests of runtime/philox.h: Random123 known-answer vectors, the exact uniform transforms, the
// accuracy of the portable log/sincos used by Box-Muller, and the distributions' statistics.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "runtime/philox.h"

namespace groove {
namespace {

// Random123's tests/kat_vectors, the three "philox4x32 10" lines: counter[4] key[2] -> output[4].
TEST(Philox, KnownAnswerVectors) {
  struct Kat {
    U32x4 ctr;
    U32x2 key;
    U32x4 expected;
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, {{0, 0}}, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}},
       {{0xffffffff, 0xffffffff}},
       {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}},
       {{0xa4093822, 0x299f31d0}},
       {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
  };
  for (const Kat& k : kats) {
    const U32x4 out = philox4x32<10>(k.ctr, k.key);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(out.v[i], k.expected.v[i]) << "word " << i;
  }
}

TEST(Philox, BlockAddressingUsesSeedStreamAndCounter) {
  const U32x4 a = philox_block(1, 2, 3);
  const U32x4 direct = philox4x32<10>(U32x4{{3, 0, 2, 0}}, U32x2{{1, 0}});
  for (int i = 0; i < 4; ++i) EXPECT_EQ(a.v[i], direct.v[i]);
  // 64-bit seed, stream and counter all matter, including their high words.
  const U32x4 b = philox_block(1ull << 40, 2, 3), c = philox_block(1, 2ull << 40, 3),
              d = philox_block(1, 2, 3ull << 40);
  EXPECT_NE(a.v[0], b.v[0]);
  EXPECT_NE(a.v[0], c.v[0]);
  EXPECT_NE(a.v[0], d.v[0]);
}

TEST(Philox, UniformTransformsAreExactAndOpen) {
  EXPECT_EQ(u01_f32(0u), 5.9604644775390625e-08f);                  // 2^-24
  EXPECT_EQ(u01_f32(0xffffffffu), 1.0f - 5.9604644775390625e-08f);  // 1 - 2^-24
  EXPECT_GT(u01_f64(0u, 0u), 0.0);
  EXPECT_LT(u01_f64(0xffffffffu, 0xffffffffu), 1.0);
  EXPECT_EQ(u01_f64(0u, 0u), std::ldexp(1.0, -53));
  EXPECT_EQ(uniform_from_block<float>(U32x4{{0, 0, 0, 0}}, 0, -1.f, 1.f), std::fma(5.9604644775390625e-08f, 2.f, -1.f));
}

TEST(Philox, PortableLogMatchesLibm) {
  double worst = 0;
  for (int i = 1; i <= 200000; ++i) {
    const double u = std::ldexp(static_cast<double>(philox_block(7, 0, i).v[0]) + 0.5, -32) * (i % 7 == 0 ? 1e-12 : 1);
    const double rel = std::fabs(philox_detail::log_u(u) - std::log(u)) / std::fabs(std::log(u));
    worst = std::max(worst, rel);
  }
  EXPECT_LT(worst, 4e-16);
  EXPECT_EQ(philox_detail::log_u(1.0), 0.0);
  EXPECT_NEAR(philox_detail::log_u(std::ldexp(1.0, -53)), -53 * std::log(2.0), 1e-13);
}

TEST(Philox, PortableSinCosMatchesLibm) {
  const double two_pi = 6.283185307179586476925;
  double worst = 0;
  for (int i = 0; i <= 100000; ++i) {
    const double u = i / 100000.0;
    double s, c;
    philox_detail::sincos_2pi(u, s, c);
    worst = std::max({worst, std::fabs(s - std::sin(two_pi * u)), std::fabs(c - std::cos(two_pi * u))});
  }
  EXPECT_LT(worst, 2e-15);
}

TEST(Philox, NormalMomentsAndTails) {
  const int n = 400000;
  double sum = 0, sum2 = 0, sum4 = 0;
  int beyond3 = 0;
  for (int b = 0; b < n / 2; ++b) {
    double z[2];
    normal_pair(philox_block(11, 5, b), z[0], z[1]);
    for (double v : z) {
      sum += v;
      sum2 += v * v;
      sum4 += v * v * v * v;
      beyond3 += std::fabs(v) > 3;
    }
  }
  const double mean = sum / n, var = sum2 / n - mean * mean, kurt = sum4 / n;
  EXPECT_NEAR(mean, 0.0, 5 * std::sqrt(1.0 / n));
  EXPECT_NEAR(var, 1.0, 0.01);
  EXPECT_NEAR(kurt, 3.0, 0.05);
  EXPECT_NEAR(beyond3 / double(n), 0.0026998, 0.0006);
}

TEST(Philox, UniformAndBernoulliStatistics) {
  const int blocks = 100000;
  double sum = 0;
  int ones = 0, lt_quarter = 0;
  for (int b = 0; b < blocks; ++b) {
    const U32x4 w = philox_block(3, 1, b);
    for (int lane = 0; lane < 4; ++lane) {
      const float u = uniform_from_block<float>(w, lane, 0.f, 1.f);
      sum += u;
      lt_quarter += u < 0.25f;
      ones += bernoulli_from_block(w, lane, 0.2f);
    }
  }
  const double n = 4.0 * blocks;
  EXPECT_NEAR(sum / n, 0.5, 0.003);
  EXPECT_NEAR(lt_quarter / n, 0.25, 0.003);
  EXPECT_NEAR(ones / n, 0.2, 0.003);
}

TEST(Philox, PermutationKeysAreDistinct) {
  std::set<std::uint64_t> keys;
  for (int b = 0; b < 50000; ++b) {
    const U32x4 w = philox_block(9, 0, b);
    keys.insert(permutation_key(w, 0));
    keys.insert(permutation_key(w, 1));
  }
  EXPECT_EQ(keys.size(), 100000u);
}

}  // namespace
}  // namespace groove
