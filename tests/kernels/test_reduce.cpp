// CPU reductions against naive double-precision loops on every axis; NaN, ties and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/ops.h"
#include "tests/common/test_util.h"

namespace groove {
namespace {

// Naive reference over axis `axis` of a [d0, d1, d2] tensor.
Tensor naive_reduce(const Tensor& x, int axis, ReduceOp op) {
  const Shape s = x.shape();
  Tensor out = Tensor::host(s.without(axis), x.dtype());
  const std::int64_t outer = s.prod(0, axis), r = s[axis], inner = s.prod(axis + 1, s.ndim());
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::int64_t i = 0; i < inner; ++i) {
      double acc = op == ReduceOp::max ? -INFINITY : 0;
      for (std::int64_t j = 0; j < r; ++j) {
        const std::int64_t idx = (o * r + j) * inner + i;
        const double v = x.dtype() == DType::f32 ? x.flat<float>(idx) : x.flat<double>(idx);
        if (op == ReduceOp::max)
          acc = std::max(acc, v);
        else
          acc += op == ReduceOp::l2norm ? v * v : v;
      }
      if (op == ReduceOp::mean) acc /= static_cast<double>(r);
      if (op == ReduceOp::l2norm) acc = std::sqrt(acc);
      if (x.dtype() == DType::f32)
        out.flat<float>(o * inner + i) = static_cast<float>(acc);
      else
        out.flat<double>(o * inner + i) = acc;
    }
  }
  return out;
}

TEST(Reduce, AllOpsAllAxesMatchNaive) {
  Context ctx;
  for (DType dt : {DType::f32, DType::f64}) {
    for (const Shape& shape : {Shape{3, 70, 5}, Shape{4, 1001}, Shape{2, 8}}) {  // rows: tails and exact lanes
      Tensor x = test::random_tensor(shape, dt, 4);
      for (int axis = 0; axis < shape.ndim(); ++axis) {
        for (ReduceOp op : {ReduceOp::sum, ReduceOp::mean, ReduceOp::max, ReduceOp::l2norm}) {
          Tensor out = Tensor::host(x.shape().without(axis), dt);
          ops::reduce(out, x, axis, op, ctx);
          EXPECT_TRUE(test::all_close(out, naive_reduce(x, axis, op)))
              << dtype_name(dt) << " " << shape.str() << " axis " << axis << " op "
              << kReduceOpNames[static_cast<int>(op)];
        }
      }
    }
  }
}

TEST(Reduce, WideInnerAndNegativeAxis) {
  Context ctx;
  Tensor x = test::random_tensor({4, 3, 150}, DType::f64, 8);  // inner spans several 64-wide chunks
  Tensor out = Tensor::host({4, 150}, DType::f64);
  ops::reduce(out, x, -2, ReduceOp::sum, ctx);
  EXPECT_TRUE(test::all_close(out, naive_reduce(x, 1, ReduceOp::sum)));
}

TEST(Reduce, MaxPropagatesNaNAndEmptyAxisIsAnError) {
  Context ctx;
  Tensor x = Tensor::from_vector<float>({2, 3}, {1, NAN, 2, -1, -3, -2});
  Tensor out = Tensor::host({2}, DType::f32);
  ops::reduce(out, x, 1, ReduceOp::max, ctx);
  EXPECT_TRUE(std::isnan(out.flat<float>(0)));
  EXPECT_EQ(out.flat<float>(1), -1.f);
  Tensor empty = Tensor::host({2, 0}, DType::f32);
  EXPECT_THROW(ops::reduce(out, empty, 1, ReduceOp::max, ctx), Error);
  ops::reduce(out, empty, 1, ReduceOp::sum, ctx);
  EXPECT_EQ(out.to_vector<float>(), (std::vector<float>{0, 0}));
  Tensor wrong = Tensor::host({3}, DType::f32);
  EXPECT_THROW(ops::reduce(wrong, x, 1, ReduceOp::sum, ctx), Error);
  EXPECT_THROW(ops::reduce(out, x, 2, ReduceOp::sum, ctx), Error);
}

TEST(Argmax, FirstMaximumFirstNaNAndStridedAxis) {
  Context ctx;
  Tensor x = Tensor::from_vector<double>({3, 4}, {1, 5, 5, 2,      //
                                                  -1, -1, -1, -1,  //
                                                  0, NAN, 9, NAN});
  Tensor out = Tensor::host({3}, DType::i32);
  ops::argmax(out, x, 1, ctx);
  EXPECT_EQ(out.to_vector<std::int32_t>(), (std::vector<std::int32_t>{1, 0, 1}));
  Tensor cols = Tensor::host({4}, DType::i32);
  ops::argmax(cols, x, 0, ctx);
  EXPECT_EQ(cols.to_vector<std::int32_t>(), (std::vector<std::int32_t>{0, 2, 2, 2}));
  Tensor wrong = Tensor::host({3}, DType::f64);
  EXPECT_THROW(ops::argmax(wrong, x, 1, ctx), Error);
}

}  // namespace
}  // namespace groove
