// CUDA indexing kernels: row gather by index, one-hot. CPU twins: kernels/cpu/index.cpp.
#include <limits>

#include "kernels/backend.h"
#include "kernels/cuda/launch.h"

namespace groove::cuda {

namespace {
// kernels ------------------------------------------------------------------------------------

template <typename T>
__global__ void gather_rows_kernel(T* __restrict__ y, const T* __restrict__ x, const std::int32_t* __restrict__ index,
                                   GatherShape s) {
  const std::int64_t n = s.batch * s.m * s.d;
  for (std::int64_t e = global_thread(); e < n; e += grid_stride()) {
    const std::int64_t row = e / s.d, col = e % s.d;
    const std::int64_t b = row / s.m, i = row % s.m;
    const std::int32_t src = index[b * s.index_batch_stride + i];
    // Out-of-range rows become NaN (0 for integers): the device cannot throw; see ops.h.
    y[e] = (src >= 0 && src < s.p) ? x[b * s.x_batch_stride + src * s.d + col] : std::numeric_limits<T>::quiet_NaN();
  }
}

template <typename T>
__global__ void one_hot_kernel(T* __restrict__ y, const std::int32_t* __restrict__ labels, std::int64_t n,
                               std::int64_t classes) {
  for (std::int64_t e = global_thread(); e < n * classes; e += grid_stride()) {
    y[e] = labels[e / classes] == e % classes ? T(1) : T(0);
  }
}
}  // namespace

// entries --------------------------------------------------------------------------------------

template <typename T>
void gather_rows(T* y, const T* x, const std::int32_t* index, const GatherShape& s, Context& ctx) {
  const cudaStream_t stream = cuda_stream(ctx);
  gather_rows_kernel<T><<<grid_for(s.batch * s.m * s.d, ctx), kBlock, 0, stream>>>(y, x, index, s);
  GROOVE_LAUNCH_CHECK(stream, "gather_rows_kernel");
}

template <typename T>
void one_hot(T* y, const std::int32_t* labels, std::int64_t n, std::int64_t classes, Context& ctx) {
  if (n * classes == 0) return;
  const cudaStream_t stream = cuda_stream(ctx);
  one_hot_kernel<T><<<grid_for(n * classes, ctx), kBlock, 0, stream>>>(y, labels, n, classes);
  GROOVE_LAUNCH_CHECK(stream, "one_hot_kernel");
}

GROOVE_FOR_ALL_TYPES(GROOVE_INSTANTIATE_GATHER)
GROOVE_FOR_FLOAT_TYPES(GROOVE_INSTANTIATE_ONE_HOT)

}  // namespace groove::cuda
