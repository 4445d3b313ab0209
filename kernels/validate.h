// Internal: the argument checks every op family's validation file uses (ops.cpp, stats_ops.cpp,
// svm_ops.cpp, linalg_ops.cpp), with messages that name the op and the tensor, and the dispatch
// macro that picks the CPU or CUDA entry point.
#pragma once

#include <groove/config.h>

#include "runtime/context.h"
#include "runtime/error.h"
#include "runtime/tensor.h"

// Calls cpu::fn or cuda::fn for the context's device.
#if GROOVE_WITH_CUDA
#define GROOVE_BACKEND(ctx, fn) ((ctx).is_cuda() ? &cuda::fn : &cpu::fn)
#else
#define GROOVE_BACKEND(ctx, fn) (&cpu::fn)
#endif

namespace groove::ops::detail {

// Defined and on the context's device.
inline void check_on(const Tensor& t, const char* op, const char* name, const Context& ctx) {
  GROOVE_CHECK(t.defined(), op, ": tensor '", name, "' is undefined");
  GROOVE_CHECK(t.device() == ctx.device(), op, ": tensor '", name, "' (", t.str(), ") is not on ", ctx.device().str(),
               ", the context's device");
}

// Defined and f32 or f64.
inline void check_float(const Tensor& t, const char* op, const char* name) {
  GROOVE_CHECK(t.defined(), op, ": tensor '", name, "' is undefined");
  GROOVE_CHECK(is_floating(t.dtype()), op, ": tensor '", name, "' has dtype ", dtype_name(t.dtype()),
               ", expected f32 or f64");
}

inline void check_float_on(const Tensor& t, const char* op, const char* name, const Context& ctx) {
  check_float(t, op, name);
  check_on(t, op, name, ctx);
}

// On the context's device with the given dtype.
inline void check_dtype_on(const Tensor& t, const char* op, const char* name, DType dtype, const Context& ctx) {
  check_on(t, op, name, ctx);
  GROOVE_CHECK(t.dtype() == dtype, op, ": tensor '", name, "' has dtype ", dtype_name(t.dtype()), ", expected ",
               dtype_name(dtype));
}

// On the context's device with the given dtype and shape.
inline void check_exact(const Tensor& t, const char* op, const char* name, DType dtype, const Shape& shape,
                        const Context& ctx) {
  check_on(t, op, name, ctx);
  GROOVE_CHECK(t.dtype() == dtype && t.shape() == shape, op, ": tensor '", name, "' must be ", dtype_name(dtype),
               shape.str(), ", got ", t.str());
}

}  // namespace groove::ops::detail
