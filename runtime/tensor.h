// Tensor: a typed, contiguous, row-major view of memory on one device.
//
// Ensemble-first: model tensors carry a leading model dimension K (parameters [K, out, in],
// activations [K, P, N], per-model hyperparameters [K]); model(k) is a view of one model's slice.
// Storage is reference counted and returns its memory to the allocator it came from, so views
// stay valid however long they live. Copies of a Tensor are shallow (they share storage).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "runtime/allocator.h"
#include "runtime/device.h"
#include "runtime/dtype.h"
#include "runtime/error.h"

namespace groove {

class Context;

// A shape of up to kMaxDims dimensions, stored inline (no heap allocation).
class Shape {
 public:
  static constexpr int kMaxDims = 6;
  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims);
  explicit Shape(const std::vector<std::int64_t>& dims);

  int ndim() const { return ndim_; }
  std::int64_t operator[](int i) const { return dims_[static_cast<std::size_t>(i)]; }
  std::int64_t& operator[](int i) { return dims_[static_cast<std::size_t>(i)]; }
  std::int64_t numel() const;
  // Product of dims [begin, end).
  std::int64_t prod(int begin, int end) const;
  std::vector<std::int64_t> vec() const { return {dims_.begin(), dims_.begin() + ndim_}; }
  std::string str() const;                 // "[3, 4]"
  Shape drop_front() const;                // [K, a, b] -> [a, b]
  Shape with_front(std::int64_t k) const;  // [a, b] -> [k, a, b]
  Shape without(int axis) const;

  friend bool operator==(const Shape& a, const Shape& b);
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

 private:
  std::array<std::int64_t, kMaxDims> dims_{};
  int ndim_ = 0;
};

struct Storage {
  void* ptr = nullptr;
  std::size_t bytes = 0;
  Device device;
  std::shared_ptr<Allocator> allocator;  // null for borrowed memory
  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage();
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor

  // Uninitialized tensor on the context's device, from the context's allocator.
  static Tensor empty(const Shape& shape, DType dtype, Context& ctx);
  static Tensor zeros(const Shape& shape, DType dtype, Context& ctx);
  // Uninitialized / zero host tensor from the process-wide host allocator.
  static Tensor host(const Shape& shape, DType dtype);
  static Tensor host_zeros(const Shape& shape, DType dtype);
  // Host tensor holding a copy of `values` (numel must equal shape.numel()).
  template <typename T>
  static Tensor from_vector(const Shape& shape, const std::vector<T>& values);
  // Wraps memory the caller owns (and keeps alive); the tensor never frees it.
  static Tensor borrow(void* ptr, const Shape& shape, DType dtype, Device device);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return shape_.ndim(); }
  std::int64_t dim(int i) const;  // negative i counts from the end
  std::int64_t numel() const { return shape_.numel(); }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device : Device(); }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype_); }
  bool is_cuda() const { return device().is_cuda(); }

  void* raw() const { return static_cast<char*>(storage_->ptr) + offset_bytes_; }
  // Typed pointer; throws when T does not match the dtype.
  template <typename T>
  T* data() const {
    GROOVE_CHECK(defined(), "data<", dtype_name(dtype_v<T>), ">() of an undefined tensor");
    GROOVE_CHECK(dtype_ == dtype_v<T>, "tensor ", str(), " accessed as ", dtype_name(dtype_v<T>));
    return static_cast<T*>(raw());
  }
  // Host-only element access by flat index (for tests and small host-side work).
  template <typename T>
  T& flat(std::int64_t i) const {
    GROOVE_CHECK(!is_cuda(), "flat() on a CUDA tensor ", str(), "; copy it to the host first");
    return data<T>()[i];
  }

  // Element i of a host tensor of any dtype, as a double (for checks and reporting).
  double value(std::int64_t i) const;

  // Views (share storage). model(k): one model's slice [a, b, ...] of a [K, a, b, ...] tensor;
  // models(k0, n): [n, a, b, ...]; reshape: same numel.
  Tensor model(std::int64_t k) const;
  Tensor models(std::int64_t start, std::int64_t count) const;
  Tensor reshape(const Shape& shape) const;

  // Deep copies. to(ctx) copies to the context's device (synchronously).
  Tensor to(Context& ctx) const;
  Tensor to_host() const;
  // Copies src (same shape and dtype, any device) into this tensor, ordered on ctx's stream.
  void copy_from(const Tensor& src, Context& ctx);

  // Host copy of all elements as a std::vector (any device; synchronizes).
  template <typename T>
  std::vector<T> to_vector() const;

  bool shares_storage_with(const Tensor& other) const { return storage_ && storage_ == other.storage_; }
  std::string str() const;  // "f32[3, 4] on cpu"

 private:
  std::shared_ptr<Storage> storage_;
  std::size_t offset_bytes_ = 0;
  Shape shape_;
  DType dtype_ = DType::f32;
};

// Checks that a tensor is defined and has the given dtype / shape; the message names the tensor.
void check_tensor(const Tensor& t, const char* name, DType dtype);
void check_shape(const Tensor& t, const char* name, const Shape& expected);
void check_same_device(const Tensor& t, const char* name, const Context& ctx);

template <typename T>
Tensor Tensor::from_vector(const Shape& shape, const std::vector<T>& values) {
  GROOVE_CHECK(static_cast<std::int64_t>(values.size()) == shape.numel(), "from_vector: ", values.size(),
               " values for shape ", shape.str());
  Tensor t = host(shape, dtype_v<T>);
  T* p = t.data<T>();
  for (std::size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  return t;
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor h = is_cuda() ? to_host() : *this;
  const T* p = h.data<T>();
  return std::vector<T>(p, p + numel());
}

}  // namespace groove
