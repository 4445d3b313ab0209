// CPU random kernels: one Philox block per iteration, the same element <-> block mapping as the
// CUDA kernels (runtime/philox.h), so both backends produce bitwise-identical tensors.
#include <algorithm>
#include <utility>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu/parallel.h"

namespace groove::cpu {

namespace {
// Calls f(i, w, lane) for every element i, where w is the block element i is drawn from.
template <int PerBlock, typename F>
void for_each_draw(std::int64_t n, const RngKey& key, F&& f) {
  const std::int64_t blocks = (n + PerBlock - 1) / PerBlock;
#pragma omp parallel for if (n >= kParallelElements / 4)
  for (std::int64_t b = 0; b < blocks; ++b) {
    const U32x4 w = philox_block(key.seed, key.stream, key.offset + static_cast<std::uint64_t>(b));
    for (int lane = 0; lane < PerBlock; ++lane) {
      const std::int64_t i = b * PerBlock + lane;
      if (i < n) f(i, w, lane);
    }
  }
}
}  // namespace

template <typename T>
void random_uniform(T* y, std::int64_t n, const RngKey& key, T lo, T hi, Context&) {
  constexpr int per = sizeof(T) == 4 ? kUniformF32PerBlock : kUniformF64PerBlock;
  for_each_draw<per>(n, key, [&](std::int64_t i, U32x4 w, int lane) { y[i] = uniform_from_block<T>(w, lane, lo, hi); });
}

template <typename T>
void random_normal(T* y, std::int64_t n, const RngKey& key, T mean, T stddev, Context&) {
  for_each_draw<kNormalPerBlock>(
      n, key, [&](std::int64_t i, U32x4 w, int lane) { y[i] = normal_from_block<T>(w, lane, mean, stddev); });
}

template <typename T>
void random_bernoulli(T* y, std::int64_t n, const RngKey& key, float p, Context&) {
  for_each_draw<kBernoulliPerBlock>(
      n, key, [&](std::int64_t i, U32x4 w, int lane) { y[i] = bernoulli_from_block(w, lane, p) ? T(1) : T(0); });
}

void random_permutation(std::int32_t* y, std::int64_t n, const RngKey& key, Context&) {
  std::vector<std::pair<std::uint64_t, std::int32_t>> keyed(static_cast<std::size_t>(n));
  for_each_draw<kPermutationKeysPerBlock>(n, key, [&](std::int64_t i, U32x4 w, int lane) {
    keyed[static_cast<std::size_t>(i)] = {permutation_key(w, lane), static_cast<std::int32_t>(i)};
  });
  std::sort(keyed.begin(), keyed.end());  // by key, ties by index: the order a stable radix sort gives
  for (std::int64_t i = 0; i < n; ++i) y[i] = keyed[static_cast<std::size_t>(i)].second;
}

GROOVE_FOR_FLOAT_TYPES(GROOVE_INSTANTIATE_RANDOM)

}  // namespace groove::cpu
