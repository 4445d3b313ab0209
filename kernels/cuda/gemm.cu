// CUDA GEMM batched over the model dimension: cuBLAS (vendor) for large products, and groove's
// tiled kernel (handwritten) for small ones, where cuBLAS's large tiles and heuristics cost more
// than they save. Row-major throughout; CPU twin: kernels/cpu/gemm.cpp.
#include <climits>

#include "kernels/backend.h"
#include "kernels/cuda/launch.h"

namespace groove::cuda {

namespace {
// kernels ------------------------------------------------------------------------------------

// Tile sizes: a 16x16 thread block computes a 64x64 tile of c, 4x4 outputs per thread, stepping
// through k in slices of 16 staged in shared memory.
constexpr int kTileM = 64, kTileN = 64, kTileK = 16, kThreadsX = 16, kThreadsY = 16;
constexpr int kPerThreadM = kTileM / kThreadsY, kPerThreadN = kTileN / kThreadsX;
constexpr int kThreads = kThreadsX * kThreadsY;
static_assert(kTileM * kTileK % kThreads == 0 && kTileK * kTileN % kThreads == 0, "tile loads must divide evenly");

template <typename T>
__global__ void __launch_bounds__(kThreads) gemm_tiled_kernel(T* __restrict__ c, const T* __restrict__ a,
                                                              const T* __restrict__ b, GemmShape s, T alpha, T beta) {
  __shared__ T as[kTileK][kTileM + 1];  // as[p][i] = op(a)(m0 + i, k0 + p); +1 avoids bank conflicts
  __shared__ T bs[kTileK][kTileN + 1];  // bs[p][j] = op(b)(k0 + p, n0 + j)
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * kThreadsX + tx;
  const std::int64_t m0 = static_cast<std::int64_t>(blockIdx.y) * kTileM;
  const std::int64_t n0 = static_cast<std::int64_t>(blockIdx.x) * kTileN;

  for (std::int64_t batch = blockIdx.z; batch < s.batch; batch += gridDim.z) {
    const T* ab = a + batch * s.stride_a;
    const T* bb = b + batch * s.stride_b;
    T* cb = c + batch * s.stride_c;
    T acc[kPerThreadM][kPerThreadN];
#pragma unroll
    for (int u = 0; u < kPerThreadM; ++u) {
#pragma unroll
      for (int v = 0; v < kPerThreadN; ++v) acc[u][v] = T(0);
    }

    for (std::int64_t k0 = 0; k0 < s.k; k0 += kTileK) {
      // Stage the tiles; consecutive threads read consecutive addresses for either layout.
#pragma unroll
      for (int r = 0; r < kTileM * kTileK / kThreads; ++r) {
        const int e = tid + r * kThreads;
        const int i = s.trans_a ? e % kTileM : e / kTileK;
        const int p = s.trans_a ? e / kTileM : e % kTileK;
        const std::int64_t gi = m0 + i, gp = k0 + p;
        T v = T(0);
        if (gi < s.m && gp < s.k) v = s.trans_a ? ab[gp * s.m + gi] : ab[gi * s.k + gp];
        as[p][i] = v;
      }
#pragma unroll
      for (int r = 0; r < kTileK * kTileN / kThreads; ++r) {
        const int e = tid + r * kThreads;
        const int j = s.trans_b ? e / kTileK : e % kTileN;
        const int p = s.trans_b ? e % kTileK : e / kTileN;
        const std::int64_t gj = n0 + j, gp = k0 + p;
        T v = T(0);
        if (gj < s.n && gp < s.k) v = s.trans_b ? bb[gj * s.k + gp] : bb[gp * s.n + gj];
        bs[p][j] = v;
      }
      __syncthreads();
#pragma unroll
      for (int p = 0; p < kTileK; ++p) {
        T av[kPerThreadM], bv[kPerThreadN];
#pragma unroll
        for (int u = 0; u < kPerThreadM; ++u) av[u] = as[p][ty + u * kThreadsY];
#pragma unroll
        for (int v = 0; v < kPerThreadN; ++v) bv[v] = bs[p][tx + v * kThreadsX];
#pragma unroll
        for (int u = 0; u < kPerThreadM; ++u) {
#pragma unroll
          for (int v = 0; v < kPerThreadN; ++v) acc[u][v] += av[u] * bv[v];
        }
      }
      __syncthreads();
    }

#pragma unroll
    for (int u = 0; u < kPerThreadM; ++u) {
      const std::int64_t gi = m0 + ty + u * kThreadsY;
      if (gi >= s.m) continue;
#pragma unroll
      for (int v = 0; v < kPerThreadN; ++v) {
        const std::int64_t gj = n0 + tx + v * kThreadsX;
        if (gj >= s.n) continue;
        T* out = cb + gi * s.n + gj;
        // beta == 0: c is write-only (its old contents, even NaN, are ignored), as in BLAS.
        *out = beta == T(0) ? alpha * acc[u][v] : alpha * acc[u][v] + beta * *out;
      }
    }
  }
}

// launchers ------------------------------------------------------------------------------------

template <typename T>
void launch_tiled(T* c, const T* a, const T* b, const GemmShape& s, T alpha, T beta, cudaStream_t stream) {
  const std::int64_t tiles_m = (s.m + kTileM - 1) / kTileM, tiles_n = (s.n + kTileN - 1) / kTileN;
  GROOVE_CHECK(tiles_m <= 65535, "gemm: m = ", s.m, " is too large for the handwritten kernel; use vendor");
  GROOVE_CHECK(tiles_n <= INT_MAX, "gemm: n = ", s.n, " is too large");
  const dim3 grid(static_cast<unsigned>(tiles_n), static_cast<unsigned>(tiles_m),
                  static_cast<unsigned>(std::min<std::int64_t>(s.batch, 65535)));
  const dim3 block(kThreadsX, kThreadsY);
  gemm_tiled_kernel<T><<<grid, block, 0, stream>>>(c, a, b, s, alpha, beta);
  GROOVE_LAUNCH_CHECK(stream, "gemm_tiled_kernel");
}

cublasStatus_t cublas_gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float* alpha, const float* a, int lda, long long sa, const float* b, int ldb,
                           long long sb, const float* beta, float* c, int ldc, long long sc, int batch) {
  return cublasSgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
}
cublasStatus_t cublas_gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const double* alpha, const double* a, int lda, long long sa, const double* b, int ldb,
                           long long sb, const double* beta, double* c, int ldc, long long sc, int batch) {
  return cublasDgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, batch);
}

int to_int(std::int64_t v, const char* what) {
  GROOVE_CHECK(v <= INT_MAX, "gemm: ", what, " = ", v, " exceeds cuBLAS's int range");
  return static_cast<int>(v);
}

// cuBLAS is column-major: the row-major product C = op(A) op(B) is the column-major product
// C^T = op(B)^T op(A)^T, i.e. cuBLAS(op_b, op_a, n, m, k, B, A, C) with the stored leading dims.
template <typename T>
void launch_cublas(T* c, const T* a, const T* b, GemmShape s, T alpha, T beta, Context& ctx) {
  const bool collapsible =
      s.batch > 1 && s.stride_b == 0 && !s.trans_a && s.stride_a == s.m * s.k && s.stride_c == s.m * s.n;
  if (collapsible) {  // shared b: all models' rows in one product
    s.m *= s.batch;
    s.batch = 1;
  }
  if (s.k == 0) {  // c = beta * c (beta == 0: zeros, whatever c held)
    if (beta == T(0)) {
      fill<T>(c, s.batch * s.m * s.n, T(0), ctx);
    } else {
      scale_add<T>(c, c, 1, s.batch * s.m * s.n, beta, nullptr, false, ctx);
    }
    return;
  }
  const int m = to_int(s.m, "m"), n = to_int(s.n, "n"), k = to_int(s.k, "k"), batch = to_int(s.batch, "batch");
  const int lda = s.trans_a ? m : k, ldb = s.trans_b ? k : n;
  GROOVE_CUDA_CHECK(cublas_gemm(cublas_handle(ctx), s.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                s.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b, ldb, s.stride_b, a, lda,
                                s.stride_a, &beta, c, n, s.stride_c, batch));
}
}  // namespace

// entries --------------------------------------------------------------------------------------

template <typename T>
void gemm(T* c, const T* a, const T* b, const GemmShape& s, T alpha, T beta, ops::GemmAlgo algo, Context& ctx) {
  if (algo == ops::GemmAlgo::handwritten) {
    launch_tiled(c, a, b, s, alpha, beta, cuda_stream(ctx));
  } else {
    launch_cublas(c, a, b, s, alpha, beta, ctx);
  }
}

GROOVE_FOR_FLOAT_TYPES(GROOVE_INSTANTIATE_GEMM)

}  // namespace groove::cuda
