// Tensor, Shape and Storage.
#include "runtime/tensor.h"

#include <cstring>
#include <limits>

#include "runtime/backend.h"
#include "runtime/context.h"

namespace groove {

// ---------------------------------------------------------------------------------------------
// Shape

Shape::Shape(std::initializer_list<std::int64_t> dims) : Shape(std::vector<std::int64_t>(dims)) {}

Shape::Shape(const std::vector<std::int64_t>& dims) {
  GROOVE_CHECK(dims.size() <= static_cast<std::size_t>(kMaxDims), "shape with ", dims.size(), " dimensions; at most ",
               kMaxDims, " are supported");
  ndim_ = static_cast<int>(dims.size());
  for (int i = 0; i < ndim_; ++i) {
    GROOVE_CHECK(dims[static_cast<std::size_t>(i)] >= 0, "negative dimension ", dims[static_cast<std::size_t>(i)],
                 " in shape");
    dims_[static_cast<std::size_t>(i)] = dims[static_cast<std::size_t>(i)];
  }
  (void)numel();  // validates that the element count fits in int64
}

std::int64_t Shape::prod(int begin, int end) const {
  std::int64_t n = 1;
  for (int i = begin; i < end; ++i) {
    const std::int64_t d = dims_[static_cast<std::size_t>(i)];
    GROOVE_CHECK(d == 0 || n <= std::numeric_limits<std::int64_t>::max() / d, "shape ", str(),
                 " has too many elements");
    n *= d;
  }
  return n;
}

std::int64_t Shape::numel() const {
  return prod(0, ndim_);
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < ndim_; ++i) {
    if (i) s += ", ";
    s += std::to_string(dims_[static_cast<std::size_t>(i)]);
  }
  return s + "]";
}

Shape Shape::drop_front() const {
  GROOVE_CHECK(ndim_ >= 1, "cannot drop the leading dimension of a scalar shape");
  Shape s;
  s.ndim_ = ndim_ - 1;
  for (int i = 1; i < ndim_; ++i) s.dims_[static_cast<std::size_t>(i - 1)] = dims_[static_cast<std::size_t>(i)];
  return s;
}

Shape Shape::with_front(std::int64_t k) const {
  GROOVE_CHECK(ndim_ < kMaxDims, "shape ", str(), " already has ", kMaxDims, " dimensions");
  Shape s;
  s.ndim_ = ndim_ + 1;
  s.dims_[0] = k;
  for (int i = 0; i < ndim_; ++i) s.dims_[static_cast<std::size_t>(i + 1)] = dims_[static_cast<std::size_t>(i)];
  return s;
}

Shape Shape::without(int axis) const {
  GROOVE_CHECK(axis >= 0 && axis < ndim_, "axis ", axis, " out of range for shape ", str());
  Shape s;
  s.ndim_ = ndim_ - 1;
  for (int i = 0, j = 0; i < ndim_; ++i) {
    if (i != axis) s.dims_[static_cast<std::size_t>(j++)] = dims_[static_cast<std::size_t>(i)];
  }
  return s;
}

bool operator==(const Shape& a, const Shape& b) {
  if (a.ndim_ != b.ndim_) return false;
  for (int i = 0; i < a.ndim_; ++i) {
    if (a.dims_[static_cast<std::size_t>(i)] != b.dims_[static_cast<std::size_t>(i)]) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Storage and Tensor

Storage::~Storage() {
  if (allocator) allocator->deallocate(ptr, bytes);
}

namespace {
std::shared_ptr<Storage> make_storage(std::size_t bytes, Device device, std::shared_ptr<Allocator> allocator) {
  auto s = std::make_shared<Storage>();
  s->ptr = allocator->allocate(bytes);
  s->bytes = bytes;
  s->device = device;
  s->allocator = std::move(allocator);
  return s;
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Context& ctx) {
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.storage_ =
      make_storage(static_cast<std::size_t>(shape.numel()) * dtype_size(dtype), ctx.device(), ctx.allocator_ptr());
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Context& ctx) {
  Tensor t = empty(shape, dtype, ctx);
  if (t.nbytes() == 0) return t;
  if (ctx.is_cuda()) {
    backend::memset_zero(t.raw(), t.nbytes(), ctx);
  } else {
    std::memset(t.raw(), 0, t.nbytes());
  }
  return t;
}

Tensor Tensor::host(const Shape& shape, DType dtype) {
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.storage_ =
      make_storage(static_cast<std::size_t>(shape.numel()) * dtype_size(dtype), Device::cpu(), HostAllocator::shared());
  return t;
}

Tensor Tensor::host_zeros(const Shape& shape, DType dtype) {
  Tensor t = host(shape, dtype);
  if (t.nbytes()) std::memset(t.raw(), 0, t.nbytes());
  return t;
}

Tensor Tensor::borrow(void* ptr, const Shape& shape, DType dtype, Device device) {
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.storage_ = std::make_shared<Storage>();
  t.storage_->ptr = ptr;
  t.storage_->bytes = t.nbytes();
  t.storage_->device = device;
  return t;
}

std::int64_t Tensor::dim(int i) const {
  const int n = shape_.ndim();
  const int j = i < 0 ? i + n : i;
  GROOVE_CHECK(j >= 0 && j < n, "dimension ", i, " out of range for tensor ", str());
  return shape_[j];
}

double Tensor::value(std::int64_t i) const {
  switch (dtype_) {
    case DType::f32:
      return flat<float>(i);
    case DType::f64:
      return flat<double>(i);
    case DType::i32:
      return flat<std::int32_t>(i);
  }
  return 0;
}

Tensor Tensor::model(std::int64_t k) const {
  GROOVE_CHECK(defined() && ndim() >= 1, "model(", k, ") of tensor ", str(), ": needs a leading model dimension");
  GROOVE_CHECK(k >= 0 && k < shape_[0], "model index ", k, " out of range for tensor ", str());
  Tensor t = *this;
  t.shape_ = shape_.drop_front();
  t.offset_bytes_ += static_cast<std::size_t>(k * t.shape_.numel()) * dtype_size(dtype_);
  return t;
}

Tensor Tensor::models(std::int64_t start, std::int64_t count) const {
  GROOVE_CHECK(defined() && ndim() >= 1, "models() of tensor ", str(), ": needs a leading model dimension");
  GROOVE_CHECK(start >= 0 && count >= 0 && start + count <= shape_[0], "models(", start, ", ", count,
               ") out of range for tensor ", str());
  Tensor t = *this;
  const std::int64_t per_model = shape_.prod(1, ndim());
  t.shape_[0] = count;
  t.offset_bytes_ += static_cast<std::size_t>(start * per_model) * dtype_size(dtype_);
  return t;
}

Tensor Tensor::reshape(const Shape& shape) const {
  GROOVE_CHECK(shape.numel() == numel(), "cannot reshape tensor ", str(), " to ", shape.str(),
               " (element counts differ)");
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

void Tensor::copy_from(const Tensor& src, Context& ctx) {
  GROOVE_CHECK(defined() && src.defined(), "copy_from: undefined tensor");
  GROOVE_CHECK(src.dtype() == dtype_ && src.shape() == shape_, "copy_from: destination ", str(), " and source ",
               src.str(), " differ in dtype or shape");
  if (nbytes() == 0) return;
  if (!is_cuda() && !src.is_cuda()) {
    std::memmove(raw(), src.raw(), nbytes());
    return;
  }
  backend::copy_bytes(raw(), device(), src.raw(), src.device(), nbytes(), ctx.is_cuda() ? &ctx : nullptr);
}

Tensor Tensor::to(Context& ctx) const {
  GROOVE_CHECK(defined(), "to(): undefined tensor");
  Tensor t = empty(shape_, dtype_, ctx);
  t.copy_from(*this, ctx);
  return t;
}

Tensor Tensor::to_host() const {
  GROOVE_CHECK(defined(), "to_host(): undefined tensor");
  Tensor t = host(shape_, dtype_);
  if (nbytes() == 0) return t;
  if (!is_cuda()) {
    std::memcpy(t.raw(), raw(), nbytes());
  } else {
    backend::copy_bytes(t.raw(), Device::cpu(), raw(), device(), nbytes(), nullptr);
  }
  return t;
}

std::string Tensor::str() const {
  if (!defined()) return "<undefined tensor>";
  return std::string(dtype_name(dtype_)) + shape_.str() + " on " + device().str();
}

void check_tensor(const Tensor& t, const char* name, DType dtype) {
  GROOVE_CHECK(t.defined(), "tensor '", name, "' is undefined");
  GROOVE_CHECK(t.dtype() == dtype, "tensor '", name, "' has dtype ", dtype_name(t.dtype()), ", expected ",
               dtype_name(dtype));
}

void check_shape(const Tensor& t, const char* name, const Shape& expected) {
  GROOVE_CHECK(t.defined(), "tensor '", name, "' is undefined");
  GROOVE_CHECK(t.shape() == expected, "tensor '", name, "' has shape ", t.shape().str(), ", expected ", expected.str());
}

void check_same_device(const Tensor& t, const char* name, const Context& ctx) {
  GROOVE_CHECK(t.defined(), "tensor '", name, "' is undefined");
  GROOVE_CHECK(t.device() == ctx.device(), "tensor '", name, "' is on ", t.device().str(),
               " but the operation runs on ", ctx.device().str());
}

DType parse_dtype(const std::string& text) {
  if (text == "f32" || text == "float32" || text == "float") return DType::f32;
  if (text == "f64" || text == "float64" || text == "double") return DType::f64;
  if (text == "i32" || text == "int32") return DType::i32;
  GROOVE_THROW("unknown dtype '", text, "': expected f32, f64 or i32");
}

}  // namespace groove
