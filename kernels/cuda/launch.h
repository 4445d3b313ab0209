// Launch helpers shared by the CUDA kernel files: block size, grid sizing for grid-stride loops,
// and the context's stream. Kernel files follow three layers: static __global__ kernel ->
// launcher that picks the grid and takes the stream -> the backend entry called by ops.cpp.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "runtime/context.h"
#include "runtime/cuda/cuda_check.h"
#include "runtime/cuda/cuda_state.h"

namespace groove::cuda {

inline constexpr int kBlock = 256;

// Blocks for a grid-stride loop over n items: enough to fill the GPU, never more than needed.
inline unsigned grid_for(std::int64_t n, const Context& ctx, int block = kBlock) {
  const std::int64_t needed = (n + block - 1) / block;
  const std::int64_t cap = std::int64_t(cuda_sm_count(ctx)) * 32;
  return static_cast<unsigned>(std::max<std::int64_t>(1, std::min(needed, cap)));
}

// Index of this thread in a 1-D grid, and the grid's stride, as 64-bit values.
__device__ inline std::int64_t global_thread() {
  return static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline std::int64_t grid_stride() {
  return static_cast<std::int64_t>(gridDim.x) * blockDim.x;
}

}  // namespace groove::cuda
