// CUDA random kernels: one thread per Philox counter block, the same element <-> block mapping as
// the CPU twins (kernels/cpu/random.cpp), so both backends produce bitwise-identical tensors.
// Permutations sort (64-bit Philox key, index) pairs with CUB's stable radix sort.
#include <cub/device/device_radix_sort.cuh>

#include "kernels/backend.h"
#include "kernels/cuda/launch.h"

namespace groove::cuda {

namespace {
// kernels ------------------------------------------------------------------------------------

// Draws: the value of element `lane` of a counter block, for each distribution (runtime/philox.h).
template <typename T>
struct UniformDraw {
  static constexpr int kPerBlock = sizeof(T) == 4 ? kUniformF32PerBlock : kUniformF64PerBlock;
  T lo, hi;
  __device__ T operator()(U32x4 w, int lane) const { return uniform_from_block<T>(w, lane, lo, hi); }
};
template <typename T>
struct NormalDraw {
  static constexpr int kPerBlock = kNormalPerBlock;
  T mean, stddev;
  __device__ T operator()(U32x4 w, int lane) const { return normal_from_block<T>(w, lane, mean, stddev); }
};
template <typename T>
struct BernoulliDraw {
  static constexpr int kPerBlock = kBernoulliPerBlock;
  float p;
  __device__ T operator()(U32x4 w, int lane) const { return bernoulli_from_block(w, lane, p) ? T(1) : T(0); }
};

// One thread per counter block; element i comes from block key.offset + i / kPerBlock.
template <typename T, typename Draw>
__global__ void draw_kernel(T* __restrict__ y, std::int64_t n, RngKey key, Draw draw) {
  constexpr int per = Draw::kPerBlock;
  const std::int64_t blocks = (n + per - 1) / per;
  for (std::int64_t b = global_thread(); b < blocks; b += grid_stride()) {
    const U32x4 w = philox_block(key.seed, key.stream, key.offset + static_cast<std::uint64_t>(b));
    for (int lane = 0; lane < per; ++lane) {
      const std::int64_t i = b * per + lane;
      if (i < n) y[i] = draw(w, lane);
    }
  }
}

__global__ void permutation_keys_kernel(std::uint64_t* __restrict__ keys, std::int32_t* __restrict__ values,
                                        std::int64_t n, RngKey key) {
  const std::int64_t blocks = (n + kPermutationKeysPerBlock - 1) / kPermutationKeysPerBlock;
  for (std::int64_t b = global_thread(); b < blocks; b += grid_stride()) {
    const U32x4 w = philox_block(key.seed, key.stream, key.offset + static_cast<std::uint64_t>(b));
    for (int lane = 0; lane < kPermutationKeysPerBlock; ++lane) {
      const std::int64_t i = b * kPermutationKeysPerBlock + lane;
      if (i < n) {
        keys[i] = permutation_key(w, lane);
        values[i] = static_cast<std::int32_t>(i);
      }
    }
  }
}

std::size_t align_up(std::size_t v) {
  return (v + 255) / 256 * 256;
}
}  // namespace

// entries --------------------------------------------------------------------------------------

namespace {
template <typename T, typename Draw>
void launch_draw(T* y, std::int64_t n, const RngKey& key, Draw draw, Context& ctx) {
  if (n == 0) return;
  const cudaStream_t stream = cuda_stream(ctx);
  draw_kernel<T, Draw>
      <<<grid_for((n + Draw::kPerBlock - 1) / Draw::kPerBlock, ctx), kBlock, 0, stream>>>(y, n, key, draw);
  GROOVE_LAUNCH_CHECK(stream, "draw_kernel");
}
}  // namespace

template <typename T>
void random_uniform(T* y, std::int64_t n, const RngKey& key, T lo, T hi, Context& ctx) {
  launch_draw(y, n, key, UniformDraw<T>{lo, hi}, ctx);
}

template <typename T>
void random_normal(T* y, std::int64_t n, const RngKey& key, T mean, T stddev, Context& ctx) {
  launch_draw(y, n, key, NormalDraw<T>{mean, stddev}, ctx);
}

template <typename T>
void random_bernoulli(T* y, std::int64_t n, const RngKey& key, float p, Context& ctx) {
  launch_draw(y, n, key, BernoulliDraw<T>{p}, ctx);
}

void random_permutation(std::int32_t* y, std::int64_t n, const RngKey& key, Context& ctx) {
  if (n == 0) return;
  const cudaStream_t stream = cuda_stream(ctx);
  const int count = static_cast<int>(n);  // y is i32, so n fits
  std::size_t temp_bytes = 0;
  GROOVE_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      nullptr, temp_bytes, static_cast<const std::uint64_t*>(nullptr), static_cast<std::uint64_t*>(nullptr),
      static_cast<const std::int32_t*>(nullptr), y, count, 0, 64, stream));
  const std::size_t keys_bytes = align_up(static_cast<std::size_t>(n) * sizeof(std::uint64_t));
  const std::size_t values_bytes = align_up(static_cast<std::size_t>(n) * sizeof(std::int32_t));
  char* ws = static_cast<char*>(ctx.workspace(2 * keys_bytes + values_bytes + temp_bytes));
  auto* keys_in = reinterpret_cast<std::uint64_t*>(ws);
  auto* keys_out = reinterpret_cast<std::uint64_t*>(ws + keys_bytes);
  auto* values_in = reinterpret_cast<std::int32_t*>(ws + 2 * keys_bytes);
  void* temp = ws + 2 * keys_bytes + values_bytes;
  permutation_keys_kernel<<<grid_for(n, ctx), kBlock, 0, stream>>>(keys_in, values_in, n, key);
  GROOVE_LAUNCH_CHECK(stream, "permutation_keys_kernel");
  GROOVE_CUDA_CHECK(
      cub::DeviceRadixSort::SortPairs(temp, temp_bytes, keys_in, keys_out, values_in, y, count, 0, 64, stream));
}

GROOVE_FOR_FLOAT_TYPES(GROOVE_INSTANTIATE_RANDOM)

}  // namespace groove::cuda
