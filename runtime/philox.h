// Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), written
// once for host and device, plus the transforms groove uses to turn its output into uniforms,
// normals and Bernoulli draws.
//
// Addressing: every draw is a pure function of (seed, stream, counter): key = seed (64 bits),
// counter block = (counter lo, counter hi, stream lo, stream hi). Nothing depends on thread
// layout, the number of models or the backend, so init, data, minibatch order and dropout are
// identical on the CPU and the GPU and resume exactly from a checkpoint.
//
// Bitwise CPU == GPU: the transforms use only integer operations, IEEE-exact +,-,*,/, sqrt and
// explicit fma() (never an expression the compiler could contract differently), and their own
// log/sin/cos polynomials (libm and CUDA's math library differ in the last bits).
#pragma once

#include <cmath>
#include <cstdint>

#include "runtime/hostdevice.h"

namespace groove {

struct U32x4 {
  std::uint32_t v[4];
};
struct U32x2 {
  std::uint32_t v[2];
};

namespace philox_detail {
inline constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
inline constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;

GROOVE_HD inline void mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t& hi, std::uint32_t& lo) {
  const std::uint64_t p = static_cast<std::uint64_t>(a) * b;
  hi = static_cast<std::uint32_t>(p >> 32);
  lo = static_cast<std::uint32_t>(p);
}

GROOVE_HD inline U32x4 round(U32x4 c, U32x2 k) {
  std::uint32_t hi0, lo0, hi1, lo1;
  mulhilo(kM0, c.v[0], hi0, lo0);
  mulhilo(kM1, c.v[2], hi1, lo1);
  return U32x4{{hi1 ^ c.v[1] ^ k.v[0], lo1, hi0 ^ c.v[3] ^ k.v[1], lo0}};
}
}  // namespace philox_detail

// The Philox-4x32 bijection with R rounds (10 is the standard, used everywhere in groove).
template <int R = 10>
GROOVE_HD inline U32x4 philox4x32(U32x4 counter, U32x2 key) {
  counter = philox_detail::round(counter, key);
  for (int r = 1; r < R; ++r) {
    key.v[0] += philox_detail::kW0;
    key.v[1] += philox_detail::kW1;
    counter = philox_detail::round(counter, key);
  }
  return counter;
}

// Where a sequence of draws lives: seed, stream id, and the first counter block it uses.
struct RngKey {
  std::uint64_t seed = 0;
  std::uint64_t stream = 0;
  std::uint64_t offset = 0;  // counter block of the first draw
};

// The 4 random words of counter block `block` (absolute block index) of (seed, stream).
GROOVE_HD inline U32x4 philox_block(std::uint64_t seed, std::uint64_t stream, std::uint64_t block) {
  const U32x4 ctr{{static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32),
                   static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32)}};
  const U32x2 key{{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
  return philox4x32<10>(ctr, key);
}

// ---------------------------------------------------------------------------------------------
// Transforms (all exact or IEEE-reproducible; see the header comment).

// Uniform float in (0, 1): 23 random bits, centred in their interval. Exact.
GROOVE_HD inline float u01_f32(std::uint32_t x) {
  return static_cast<float>((x >> 9) * 2u + 1u) * 5.9604644775390625e-08f;  // 2^-24
}

// Uniform double in (0, 1) from two words: 52 random bits, centred. Exact.
GROOVE_HD inline double u01_f64(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t bits = (static_cast<std::uint64_t>(hi) << 20) ^ (lo >> 12);  // 52 bits
  return static_cast<double>(bits * 2u + 1u) * 1.1102230246251565404e-16;          // 2^-53
}

namespace philox_detail {
// Natural log of u in (0, 1]: u = m 2^e with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s),
// s = (m-1)/(m+1), |s| <= 0.1716; series to s^23 (truncation < 1e-19).
GROOVE_HD inline double log_u(double u) {
  int e = 0;
  double m = frexp(u, &e);
  if (m < 0.70710678118654752440) {
    m = m * 2.0;
    e -= 1;
  }
  const double s = (m - 1.0) / (m + 1.0);
  const double s2 = s * s;
  double p = 1.0 / 23.0;
  p = fma(p, s2, 1.0 / 21.0);
  p = fma(p, s2, 1.0 / 19.0);
  p = fma(p, s2, 1.0 / 17.0);
  p = fma(p, s2, 1.0 / 15.0);
  p = fma(p, s2, 1.0 / 13.0);
  p = fma(p, s2, 1.0 / 11.0);
  p = fma(p, s2, 1.0 / 9.0);
  p = fma(p, s2, 1.0 / 7.0);
  p = fma(p, s2, 1.0 / 5.0);
  p = fma(p, s2, 1.0 / 3.0);
  p = fma(p, s2, 1.0);
  const double log_m = (2.0 * s) * p;
  return fma(static_cast<double>(e), 0.69314718055994530942, log_m);
}

// sin and cos of 2 pi u for u in [0, 1]: quarter-turn reduction (exact), then Taylor polynomials
// on |x| <= pi/4 (truncation < 1e-19).
GROOVE_HD inline void sincos_2pi(double u, double& s, double& c) {
  const double q = rint(u * 4.0);  // 0..4
  const double r = u - 0.25 * q;   // exact (Sterbenz), |r| <= 1/8
  const double x = r * 6.28318530717958647693;
  const double x2 = x * x;
  double ps = -1.0 / 355687428096000.0;  // -1/17!
  ps = fma(ps, x2, 1.0 / 1307674368000.0);
  ps = fma(ps, x2, -1.0 / 6227020800.0);
  ps = fma(ps, x2, 1.0 / 39916800.0);
  ps = fma(ps, x2, -1.0 / 362880.0);
  ps = fma(ps, x2, 1.0 / 5040.0);
  ps = fma(ps, x2, -1.0 / 120.0);
  ps = fma(ps, x2, 1.0 / 6.0);
  const double sin_x = fma(-(x * x2), ps, x);
  double pc = 1.0 / 6402373705728000.0;  // 1/18!
  pc = fma(pc, x2, -1.0 / 20922789888000.0);
  pc = fma(pc, x2, 1.0 / 87178291200.0);
  pc = fma(pc, x2, -1.0 / 479001600.0);
  pc = fma(pc, x2, 1.0 / 3628800.0);
  pc = fma(pc, x2, -1.0 / 40320.0);
  pc = fma(pc, x2, 1.0 / 720.0);
  pc = fma(pc, x2, -1.0 / 24.0);
  pc = fma(pc, x2, 0.5);
  const double cos_x = fma(-x2, pc, 1.0);
  switch (static_cast<int>(q) & 3) {
    case 0:
      s = sin_x;
      c = cos_x;
      break;
    case 1:
      s = cos_x;
      c = -sin_x;
      break;
    case 2:
      s = -sin_x;
      c = -cos_x;
      break;
    default:
      s = -cos_x;
      c = sin_x;
      break;
  }
}
}  // namespace philox_detail

// Two independent standard normals from one counter block (Box-Muller in double precision).
GROOVE_HD inline void normal_pair(U32x4 w, double& z0, double& z1) {
  const double u1 = u01_f64(w.v[0], w.v[1]);
  const double u2 = u01_f64(w.v[2], w.v[3]);
  const double r = sqrt(-2.0 * philox_detail::log_u(u1));
  double s, c;
  philox_detail::sincos_2pi(u2, s, c);
  z0 = r * c;
  z1 = r * s;
}

// How many elements of each kind one counter block yields. Element i of a random tensor is drawn
// from block offset + i / per_block, so every element is independent of how the work is split.
inline constexpr int kUniformF32PerBlock = 4;
inline constexpr int kUniformF64PerBlock = 2;
inline constexpr int kNormalPerBlock = 2;
inline constexpr int kBernoulliPerBlock = 4;

// Element `lane` of the values a block yields, for each distribution (T = float or double).
template <typename T>
GROOVE_HD inline T uniform_from_block(U32x4 w, int lane, T lo, T hi) {
  if constexpr (sizeof(T) == 4) {
    return fmaf(u01_f32(w.v[lane]), hi - lo, lo);
  } else {
    return fma(u01_f64(w.v[2 * lane], w.v[2 * lane + 1]), hi - lo, lo);
  }
}

template <typename T>
GROOVE_HD inline T normal_from_block(U32x4 w, int lane, T mean, T stddev) {
  double z0, z1;
  normal_pair(w, z0, z1);
  const double z = lane == 0 ? z0 : z1;
  return static_cast<T>(fma(z, static_cast<double>(stddev), static_cast<double>(mean)));
}

// 1 with probability p, else 0 (compares a (0,1) float uniform with p).
GROOVE_HD inline bool bernoulli_from_block(U32x4 w, int lane, float p) {
  return u01_f32(w.v[lane]) < p;
}

// 64-bit sort key of element i for random permutations (sorted by (key, i); ties are broken by i).
GROOVE_HD inline std::uint64_t permutation_key(U32x4 w, int lane) {
  return (static_cast<std::uint64_t>(w.v[2 * lane]) << 32) | w.v[2 * lane + 1];
}
inline constexpr int kPermutationKeysPerBlock = 2;

// A stateless random permutation of [0, n): position -> index, a 4-round Feistel network keyed by
// (seed, stream, round key) over the smallest even-bit domain >= n, with cycle-walking to stay in
// [0, n). Every position is computed independently (minibatch order on the device without a sort,
// identical on CPU and GPU, independent of how many models train together). Needs n >= 1.
GROOVE_HD inline std::uint64_t permute_index(std::uint64_t position, std::uint64_t n, std::uint32_t seed,
                                             std::uint64_t stream, std::uint64_t round_key) {
  int half_bits = 1;
  while ((std::uint64_t(1) << (2 * half_bits)) < n) ++half_bits;
  const std::uint64_t half_mask = (std::uint64_t(1) << half_bits) - 1;
  std::uint64_t x = position;
  do {
    std::uint64_t left = x >> half_bits, right = x & half_mask;
    for (std::uint32_t r = 0; r < 4; ++r) {
      const U32x4 w = philox4x32<10>(U32x4{{static_cast<std::uint32_t>(right), r, static_cast<std::uint32_t>(round_key),
                                            static_cast<std::uint32_t>(round_key >> 32)}},
                                     U32x2{{seed, static_cast<std::uint32_t>(stream)}});
      const std::uint64_t f = ((static_cast<std::uint64_t>(w.v[0]) << 32) | w.v[1]) & half_mask;
      const std::uint64_t next = left ^ f;
      left = right;
      right = next;
    }
    x = (left << half_bits) | right;
  } while (x >= n);
  return x;
}

}  // namespace groove
