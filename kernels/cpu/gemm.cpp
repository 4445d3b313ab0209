// CPU GEMM: OpenBLAS (vendor) and a double-accumulating reference loop (handwritten), batched
// over the model dimension. A shared b with an untransposed batched a is one GEMM of batch*m rows;
// other batches run in parallel with OpenMP, each product single-threaded inside OpenBLAS
// (Debian's OpenMP build of OpenBLAS does that by itself inside a parallel region).
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <limits>

#include "kernels/backend.h"

namespace groove::cpu {

namespace {
void blas_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
               float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b,
              ldb, beta, c, ldc);
}
void blas_gemm(bool ta, bool tb, int m, int n, int k, double alpha, const double* a, int lda, const double* b, int ldb,
               double beta, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b,
              ldb, beta, c, ldc);
}

int to_blas_int(std::int64_t v, const char* what) {
  GROOVE_CHECK(v <= std::numeric_limits<int>::max(), "gemm: ", what, " = ", v, " exceeds the BLAS int range");
  return static_cast<int>(v);
}

// Products with a small inner dimension (k <= kSmallK, b not transposed: e.g. the gradient of a
// readout's input, [P, C] @ [C, N] with C classes): a rank-k update written row by row, one pass
// over c, vectorized along n. BLAS would pack both operands and run its k-blocked kernel for k = 2.
constexpr std::int64_t kSmallK = 8;

template <typename T>
void small_k_one(T* c, const T* a, const T* b, std::int64_t m, std::int64_t n, std::int64_t k, bool ta, T alpha,
                 T beta) {
  for (std::int64_t i = 0; i < m; ++i) {
    T* ci = c + i * n;
    if (beta == T(0)) {
#pragma omp simd
      for (std::int64_t j = 0; j < n; ++j) ci[j] = T(0);
    } else if (beta != T(1)) {
#pragma omp simd
      for (std::int64_t j = 0; j < n; ++j) ci[j] *= beta;
    }
    for (std::int64_t p = 0; p < k; ++p) {
      const T av = alpha * (ta ? a[p * m + i] : a[i * k + p]);
      const T* bp = b + p * n;
#pragma omp simd
      for (std::int64_t j = 0; j < n; ++j) ci[j] += av * bp[j];
    }
  }
}

// One product with BLAS. beta == 0 ignores c's old contents (even NaN): the BLAS contract ("when
// beta is zero, c need not be set on input"), which OpenBLAS and the reference BLAS implement by
// writing zeros; tests/kernels/test_gemm.cpp (BetaZeroIgnoresNaNInOutput) holds the linked BLAS
// to it. Zeroing c here as well would cost one more pass over c (~10% of a large-K CPU step).
template <typename T>
void vendor_one(T* c, const T* a, const T* b, std::int64_t m, std::int64_t n, std::int64_t k, bool ta, bool tb, T alpha,
                T beta) {
  if ((k <= kSmallK && !tb) || k == 0) {  // k == 0: BLAS may skip the beta scaling
    small_k_one(c, a, b, m, n, k, ta, alpha, beta);
    return;
  }
  const int mi = to_blas_int(m, "m"), ni = to_blas_int(n, "n"), ki = to_blas_int(k, "k");
  blas_gemm(ta, tb, mi, ni, ki, alpha, a, ta ? mi : ki, b, tb ? ki : ni, beta, c, ni);
}

// Reference: each output is a sequential double-precision dot product.
template <typename T>
void reference_one(T* c, const T* a, const T* b, std::int64_t m, std::int64_t n, std::int64_t k, bool ta, bool tb,
                   T alpha, T beta) {
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (std::int64_t p = 0; p < k; ++p) {
        const double av = ta ? a[p * m + i] : a[i * k + p];
        const double bv = tb ? b[j * k + p] : b[p * n + j];
        acc += av * bv;
      }
      const double old = beta == T(0) ? 0.0 : static_cast<double>(beta) * c[i * n + j];
      c[i * n + j] = static_cast<T>(static_cast<double>(alpha) * acc + old);
    }
  }
}
}  // namespace

template <typename T>
void gemm(T* c, const T* a, const T* b, const GemmShape& s, T alpha, T beta, ops::GemmAlgo algo, Context& ctx) {
  const bool vendor = algo != ops::GemmAlgo::handwritten;
  // Validate the BLAS int range here: nothing may throw inside the parallel region below.
  to_blas_int(s.batch * s.m, "batch * m");
  to_blas_int(s.n, "n");
  to_blas_int(s.k, "k");
  auto one = [&](std::int64_t i, std::int64_t rows) {
    const T* ai = a + i * s.stride_a;
    const T* bi = b + i * s.stride_b;
    T* ci = c + i * s.stride_c;
    if (vendor) {
      vendor_one(ci, ai, bi, rows, s.n, s.k, s.trans_a, s.trans_b, alpha, beta);
    } else {
      reference_one(ci, ai, bi, rows, s.n, s.k, s.trans_a, s.trans_b, alpha, beta);
    }
  };
  const bool collapsible =
      s.batch > 1 && s.stride_b == 0 && !s.trans_a && s.stride_a == s.m * s.k && s.stride_c == s.m * s.n;
  if (s.batch == 1 || collapsible) {
    one(0, s.batch == 1 ? s.m : s.batch * s.m);
    return;
  }
  const int threads = static_cast<int>(std::min<std::int64_t>(ctx.cpu_threads(), s.batch));
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (std::int64_t i = 0; i < s.batch; ++i) one(i, s.m);
}

GROOVE_FOR_FLOAT_TYPES(GROOVE_INSTANTIATE_GEMM)

}  // namespace groove::cpu
