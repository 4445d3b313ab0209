// PinnedBuffer, StreamEvent and copy_to_host_async: CPU paths here, CUDA paths through the
// backend functions of runtime/backend.h.
#include "runtime/async_copy.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "runtime/backend.h"
#include "runtime/error.h"

namespace groove {

PinnedBuffer::PinnedBuffer(Context& ctx, std::size_t bytes) : bytes_(bytes) {
  if (bytes == 0) return;
  if (ctx.is_cuda()) {
    data_ = backend::host_alloc_pinned(bytes, ctx);
    pinned_ = true;
  } else {
    data_ = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!data_) throw std::bad_alloc();
  }
}

PinnedBuffer::~PinnedBuffer() {
  release();
}

PinnedBuffer::PinnedBuffer(PinnedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)),
      pinned_(std::exchange(other.pinned_, false)) {}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
    pinned_ = std::exchange(other.pinned_, false);
  }
  return *this;
}

void PinnedBuffer::release() noexcept {
  if (!data_) return;
  if (pinned_) {
    backend::host_free_pinned(data_);
  } else {
    std::free(data_);
  }
  data_ = nullptr;
}

StreamEvent::StreamEvent(Context& ctx) : ctx_(&ctx) {
  if (ctx.is_cuda()) event_ = backend::event_create(ctx);
}

StreamEvent::~StreamEvent() {
  if (event_) backend::event_destroy(event_);
}

void StreamEvent::record() {
  if (event_) backend::event_record(event_, *ctx_);
}

void StreamEvent::synchronize() {
  if (event_) backend::event_synchronize(event_);
}

void copy_to_host_async(void* dst, const void* src, std::size_t bytes, Context& ctx) {
  if (bytes == 0) return;
  if (ctx.is_cuda()) {
    backend::copy_to_host_async(dst, src, bytes, ctx);
  } else {
    std::memcpy(dst, src, bytes);
  }
}

}  // namespace groove
