// CUDA and cuBLAS checks (internal header; needs the CUDA toolkit). One macro for the whole
// family: GROOVE_CUDA_CHECK(stmt) works for cudaError_t and cublasStatus_t and throws
// groove::CudaError quoting the failing statement. GROOVE_LAUNCH_CHECK() follows every kernel
// launch; with GROOVE_CUDA_SYNC_DEBUG it also synchronizes the stream (unless it is being
// captured into a graph) so that an asynchronous fault is reported at the launch that caused it.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <groove/config.h>

#include <type_traits>

#include "runtime/error.h"

namespace groove {

class CudaError : public Error {
 public:
  using Error::Error;
};

namespace cuda_detail {
const char* status_name(cudaError_t status);
const char* status_name(cublasStatus_t status);
const char* status_text(cudaError_t status);
const char* status_text(cublasStatus_t status);
inline bool ok(cudaError_t status) {
  return status == cudaSuccess;
}
inline bool ok(cublasStatus_t status) {
  return status == CUBLAS_STATUS_SUCCESS;
}

[[noreturn]] void throw_cuda(const char* kind, const char* name, const char* text, const char* statement,
                             const char* file, int line);

template <typename Status>
inline void check(Status status, const char* statement, const char* file, int line) {
  if (!ok(status)) {
    throw_cuda(std::is_same_v<Status, cudaError_t> ? "CUDA" : "cuBLAS", status_name(status), status_text(status),
               statement, file, line);
  }
}

void launch_check(cudaStream_t stream, const char* kernel, const char* file, int line);
}  // namespace cuda_detail
}  // namespace groove

#define GROOVE_CUDA_CHECK(stmt) ::groove::cuda_detail::check((stmt), #stmt, __FILE__, __LINE__)
#define GROOVE_LAUNCH_CHECK(stream, kernel_name) \
  ::groove::cuda_detail::launch_check((stream), (kernel_name), __FILE__, __LINE__)
