// CUDA reductions over one axis of a [outer, r, inner] view, in a fixed order (deterministic, no
// atomics). inner == 1: one block per row, a fixed strided split then a fixed shared-memory tree.
// inner > 1: one thread per output, sequential over r (coalesced across inner). CPU twin:
// kernels/cpu/reduce.cpp; reducers: kernels/math.h.
#include "kernels/backend.h"
#include "kernels/cuda/launch.h"

namespace groove::cuda {

namespace {
constexpr int kReduceBlock = 256;

// Block size for a row of length r: a power of two in [32, kReduceBlock].
int row_block(std::int64_t r) {
  int b = 32;
  while (b < kReduceBlock && b < r) b *= 2;
  return b;
}

// kernels ------------------------------------------------------------------------------------

template <ReduceOp Op, typename T>
__global__ void reduce_rows_kernel(T* __restrict__ out, const T* __restrict__ x, std::int64_t outer, std::int64_t r) {
  using R = math::Reducer<Op, T>;
  using Acc = typename R::Acc;
  __shared__ Acc partial[kReduceBlock];
  for (std::int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
    const T* row = x + o * r;
    Acc acc = R::init();
    for (std::int64_t j = threadIdx.x; j < r; j += blockDim.x) acc = R::step(acc, row[j]);
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s) partial[threadIdx.x] = R::combine(partial[threadIdx.x], partial[threadIdx.x + s]);
      __syncthreads();
    }
    if (threadIdx.x == 0) out[o] = R::finish(partial[0], r);
    __syncthreads();  // partial is reused by the next row
  }
}

template <ReduceOp Op, typename T>
__global__ void reduce_strided_kernel(T* __restrict__ out, const T* __restrict__ x, std::int64_t outer, std::int64_t r,
                                      std::int64_t inner) {
  using R = math::Reducer<Op, T>;
  for (std::int64_t t = global_thread(); t < outer * inner; t += grid_stride()) {
    const std::int64_t o = t / inner, i = t % inner;
    const T* base = x + o * r * inner + i;
    typename R::Acc acc = R::init();
    for (std::int64_t j = 0; j < r; ++j) acc = R::step(acc, base[j * inner]);
    out[t] = R::finish(acc, r);
  }
}

template <typename T>
__global__ void argmax_rows_kernel(std::int32_t* __restrict__ out, const T* __restrict__ x, std::int64_t outer,
                                   std::int64_t r) {
  __shared__ math::ArgmaxAcc<T> partial[kReduceBlock];
  for (std::int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
    const T* row = x + o * r;
    math::ArgmaxAcc<T> acc = math::argmax_init<T>();
    for (std::int64_t j = threadIdx.x; j < r; j += blockDim.x) {
      acc = math::argmax_combine(acc, math::ArgmaxAcc<T>{row[j], j});
    }
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s) partial[threadIdx.x] = math::argmax_combine(partial[threadIdx.x], partial[threadIdx.x + s]);
      __syncthreads();
    }
    if (threadIdx.x == 0) out[o] = static_cast<std::int32_t>(partial[0].index);
    __syncthreads();
  }
}

template <typename T>
__global__ void argmax_strided_kernel(std::int32_t* __restrict__ out, const T* __restrict__ x, std::int64_t outer,
                                      std::int64_t r, std::int64_t inner) {
  for (std::int64_t t = global_thread(); t < outer * inner; t += grid_stride()) {
    const std::int64_t o = t / inner, i = t % inner;
    const T* base = x + o * r * inner + i;
    math::ArgmaxAcc<T> acc = math::argmax_init<T>();
    for (std::int64_t j = 0; j < r; ++j) acc = math::argmax_combine(acc, math::ArgmaxAcc<T>{base[j * inner], j});
    out[t] = static_cast<std::int32_t>(acc.index);
  }
}

unsigned row_grid(std::int64_t outer, const Context& ctx) {
  return static_cast<unsigned>(std::max<std::int64_t>(1, std::min<std::int64_t>(outer, cuda_sm_count(ctx) * 32LL)));
}
}  // namespace

// entries --------------------------------------------------------------------------------------

template <typename T>
void reduce(T* out, const T* x, const ReduceShape& s, ReduceOp op, Context& ctx) {
  const cudaStream_t stream = cuda_stream(ctx);
  math::with_reduce_op(op, [&](auto o) {
    constexpr ReduceOp Op = decltype(o)::value;
    if (s.inner == 1) {
      reduce_rows_kernel<Op, T><<<row_grid(s.outer, ctx), row_block(s.r), 0, stream>>>(out, x, s.outer, s.r);
    } else {
      reduce_strided_kernel<Op, T>
          <<<grid_for(s.outer * s.inner, ctx), kBlock, 0, stream>>>(out, x, s.outer, s.r, s.inner);
    }
  });
  GROOVE_LAUNCH_CHECK(stream, "reduce_kernel");
}

template <typename T>
void argmax(std::int32_t* out, const T* x, const ReduceShape& s, Context& ctx) {
  const cudaStream_t stream = cuda_stream(ctx);
  if (s.inner == 1) {
    argmax_rows_kernel<T><<<row_grid(s.outer, ctx), row_block(s.r), 0, stream>>>(out, x, s.outer, s.r);
  } else {
    argmax_strided_kernel<T><<<grid_for(s.outer * s.inner, ctx), kBlock, 0, stream>>>(out, x, s.outer, s.r, s.inner);
  }
  GROOVE_LAUNCH_CHECK(stream, "argmax_kernel");
}

GROOVE_FOR_FLOAT_TYPES(GROOVE_INSTANTIATE_REDUCE)

}  // namespace groove::cuda
