// Context: everything an op needs to run on one device, owned in one place (no global device
// state). On the CPU: the host allocator and the OpenMP thread count. On CUDA: the device, a
// non-blocking stream, the cuBLAS handle (bound to the stream, with its own workspace), the caching
// device allocator and a scratch workspace. Ops take the context as their last argument.
#pragma once

#include <cstddef>
#include <memory>

#include "runtime/allocator.h"
#include "runtime/device.h"

namespace groove {

struct ContextOptions {
  int cpu_threads = 0;  // 0 = OpenMP's default (OMP_NUM_THREADS or the number of cores)
  // Batch-invariant kernels: each model's results are bitwise independent of how many models run
  // together (a model trained inside an ensemble equals the model trained alone). On CUDA this
  // routes GEMMs to groove's tiled kernel, since cuBLAS may pick different algorithms (split-K)
  // for different batch counts. Turn off for raw cuBLAS speed on large shapes.
  bool batch_invariant = true;
};

class Context {
 public:
  explicit Context(Device device = Device::cpu(), ContextOptions options = {});
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  Device device() const { return device_; }
  bool is_cuda() const { return device_.is_cuda(); }
  bool is_cpu() const { return device_.is_cpu(); }

  Allocator& allocator() { return *allocator_; }
  const std::shared_ptr<Allocator>& allocator_ptr() const { return allocator_; }

  // Scratch memory on this context's device, valid until the next call to workspace(). It grows
  // when asked for more (an allocation) and is reused otherwise, so a steady-state loop that asks
  // for the same sizes never allocates.
  void* workspace(std::size_t bytes);
  std::size_t workspace_bytes() const { return workspace_bytes_; }

  // Waits until all work queued on this context is done (a no-op on the CPU).
  void synchronize();

  int cpu_threads() const { return cpu_threads_; }
  bool batch_invariant() const { return batch_invariant_; }

  // Backend state (stream, cuBLAS handle); defined in runtime/cuda/. Null on the CPU.
  struct CudaState;
  struct CudaStateDeleter {
    void operator()(CudaState* state) const noexcept;
  };
  CudaState* cuda_state() const { return cuda_.get(); }

 private:
  Device device_;
  int cpu_threads_ = 1;
  bool batch_invariant_ = true;
  std::shared_ptr<Allocator> allocator_;
  void* workspace_ = nullptr;
  std::size_t workspace_bytes_ = 0;
  std::unique_ptr<CudaState, CudaStateDeleter> cuda_;
};

}  // namespace groove
