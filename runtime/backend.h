// Internal: the few memory operations the runtime core needs from the CUDA backend. Implemented
// in runtime/cuda/cuda_runtime.cpp, or by runtime/no_cuda.cpp in CPU-only builds (where they are
// never reached, because no CUDA tensor or context can exist).
#pragma once

#include <cstddef>

#include "runtime/context.h"
#include "runtime/device.h"

namespace groove {

Context::CudaState* create_cuda_state(Device device, std::shared_ptr<Allocator>& allocator_out);

namespace backend {
// Copies bytes between any two devices. With a CUDA context the copy is ordered on its stream
// (and waited for when host memory is involved); without one it waits for the whole device.
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes,
                const Context* ctx);
void memset_zero(void* dst, std::size_t bytes, const Context& ctx);
void synchronize(const Context& ctx);
// Pinned host memory, events and asynchronous device-to-host copies (runtime/async_copy.h).
void* host_alloc_pinned(std::size_t bytes, const Context& ctx);
void host_free_pinned(void* p) noexcept;
void* event_create(const Context& ctx);
void event_destroy(void* event) noexcept;
void event_record(void* event, const Context& ctx);
void event_synchronize(void* event);
void copy_to_host_async(void* dst, const void* src, std::size_t bytes, const Context& ctx);
}  // namespace backend

}  // namespace groove
