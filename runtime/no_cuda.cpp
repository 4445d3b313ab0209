// The CUDA-facing runtime functions for builds without the CUDA backend (GROOVE_CUDA=OFF or no
// CUDA compiler): no GPU is ever usable, and asking for one is a clear error.
#include <string>

#include "runtime/backend.h"
#include "runtime/device.h"
#include "runtime/error.h"
#include "runtime/tape.h"

namespace groove {

int cuda_device_count() {
  return 0;
}
std::string cuda_unavailable_reason() {
  return "groove was built without the CUDA backend (GROOVE_CUDA=OFF)";
}
std::vector<GpuInfo> list_gpus() {
  return {};
}
std::string cuda_driver_version() {
  return {};
}
std::string cuda_runtime_version() {
  return {};
}

struct Context::CudaState {};

void Context::CudaStateDeleter::operator()(CudaState* state) const noexcept {
  delete state;
}

Context::CudaState* create_cuda_state(Device device, std::shared_ptr<Allocator>&) {
  GROOVE_THROW("cannot use ", device.str(), ": ", cuda_unavailable_reason());
}

StepGraph::~StepGraph() = default;
void StepGraph::reset() noexcept {}
void StepGraph::begin_capture(Context& ctx) {
  GROOVE_THROW("StepGraph: graph capture needs a CUDA context, got ", ctx.device().str(), " (",
               cuda_unavailable_reason(), ")");
}
void StepGraph::end_capture(int) {}
void StepGraph::abort_capture() noexcept {}
void StepGraph::launch() {
  GROOVE_THROW("StepGraph::launch: nothing captured");
}

namespace backend {
void copy_bytes(void*, Device dst_device, const void*, Device src_device, std::size_t, const Context*) {
  GROOVE_THROW("copy between ", src_device.str(), " and ", dst_device.str(), ": ", cuda_unavailable_reason());
}
void memset_zero(void*, std::size_t, const Context& ctx) {
  GROOVE_THROW("memset on ", ctx.device().str(), ": ", cuda_unavailable_reason());
}
void synchronize(const Context&) {}
void* host_alloc_pinned(std::size_t, const Context& ctx) {
  GROOVE_THROW("pinned memory for ", ctx.device().str(), ": ", cuda_unavailable_reason());
}
void host_free_pinned(void*) noexcept {}
void* event_create(const Context& ctx) {
  GROOVE_THROW("event on ", ctx.device().str(), ": ", cuda_unavailable_reason());
}
void event_destroy(void*) noexcept {}
void event_record(void*, const Context&) {}
void event_synchronize(void*) {}
void copy_to_host_async(void*, const void*, std::size_t, const Context& ctx) {
  GROOVE_THROW("copy from ", ctx.device().str(), ": ", cuda_unavailable_reason());
}
}  // namespace backend

}  // namespace groove
