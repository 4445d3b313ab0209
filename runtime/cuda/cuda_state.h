// Context::CudaState and accessors for CUDA code (internal header; needs the CUDA toolkit).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "runtime/context.h"
#include "runtime/cuda/cuda_check.h"

namespace groove {

struct Context::CudaState {
  int device = 0;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  void* cublas_workspace = nullptr;
  std::size_t cublas_workspace_bytes = 0;
  int sm_count = 0;
  int max_threads_per_block = 1024;
};

// The stream and cuBLAS handle of a CUDA context; throw when the context is not a CUDA context.
cudaStream_t cuda_stream(const Context& ctx);
cublasHandle_t cublas_handle(const Context& ctx);
int cuda_sm_count(const Context& ctx);

// Makes ctx's device the calling thread's current device (cheap when it already is).
void cuda_set_device(const Context& ctx);

// Creates the backend state of a CUDA context and its caching device allocator.
Context::CudaState* create_cuda_state(Device device, std::shared_ptr<Allocator>& allocator_out);

}  // namespace groove
