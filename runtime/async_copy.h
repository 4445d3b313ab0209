// Asynchronous device -> host copies, for draining device buffers while the device keeps working:
// a pinned host buffer, a stream event, and a copy ordered on the context's stream. On the CPU
// the buffer is ordinary memory, the copy is immediate and the event is always complete.
#pragma once

#include <cstddef>

#include "runtime/context.h"

namespace groove {

// Page-locked host memory on CUDA contexts (required for asynchronous copies), aligned host
// memory on the CPU. Move-only.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(Context& ctx, std::size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& other) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }

 private:
  void release() noexcept;
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  bool pinned_ = false;
};

// An event recorded on a context's stream: synchronize() waits for the work queued before the
// last record(). Not copyable.
class StreamEvent {
 public:
  explicit StreamEvent(Context& ctx);
  ~StreamEvent();
  StreamEvent(const StreamEvent&) = delete;
  StreamEvent& operator=(const StreamEvent&) = delete;

  void record();
  void synchronize();

 private:
  Context* ctx_;
  void* event_ = nullptr;
};

// Enqueues a copy of `bytes` from device memory `src` (on ctx's device) to host memory `dst` on
// ctx's stream, without waiting. dst should be a PinnedBuffer for the copy to overlap with
// compute; wait with a StreamEvent recorded after it.
void copy_to_host_async(void* dst, const void* src, std::size_t bytes, Context& ctx);

}  // namespace groove
