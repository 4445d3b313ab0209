// Context construction, workspace and synchronization (backend-independent part).
#include "runtime/context.h"

#include <omp.h>

#include "runtime/backend.h"
#include "runtime/error.h"

namespace groove {

Context::Context(Device device, ContextOptions options) : device_(device) {
  GROOVE_CHECK(options.cpu_threads >= 0, "ContextOptions.cpu_threads must be >= 0, got ", options.cpu_threads);
  cpu_threads_ = options.cpu_threads > 0 ? options.cpu_threads : omp_get_max_threads();
  batch_invariant_ = options.batch_invariant;
  if (device.is_cpu()) {
    allocator_ = HostAllocator::shared();
  } else {
    cuda_.reset(create_cuda_state(device, allocator_));
  }
}

Context::~Context() {
  if (workspace_) allocator_->deallocate(workspace_, workspace_bytes_);
}

void* Context::workspace(std::size_t bytes) {
  if (bytes > workspace_bytes_) {
    if (workspace_) allocator_->deallocate(workspace_, workspace_bytes_);
    workspace_ = nullptr;
    workspace_bytes_ = 0;
    workspace_ = allocator_->allocate(bytes);
    workspace_bytes_ = bytes;
  }
  return workspace_;
}

void Context::synchronize() {
  if (is_cuda()) backend::synchronize(*this);
}

}  // namespace groove
