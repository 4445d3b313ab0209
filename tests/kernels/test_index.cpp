// CPU gather_rows and one_hot.
#include <gtest/gtest.h>

#include "kernels/ops.h"
#include "tests/common/test_util.h"

namespace groove {
namespace {

TEST(GatherRows, SharedAndPerModelIndexAndInput) {
  Context ctx;
  Tensor x = test::random_tensor({2, 5, 3}, DType::f32, 1);  // [K, P, D]
  Tensor idx = Tensor::from_vector<std::int32_t>({4}, {4, 0, 0, 2});
  Tensor y = Tensor::host({2, 4, 3}, DType::f32);
  ops::gather_rows(y, x, idx, ctx);
  for (int k = 0; k < 2; ++k)
    for (int i = 0; i < 4; ++i)
      for (int d = 0; d < 3; ++d)
        ASSERT_EQ(y.flat<float>((k * 4 + i) * 3 + d), x.flat<float>((k * 5 + idx.flat<std::int32_t>(i)) * 3 + d));

  Tensor per_model = Tensor::from_vector<std::int32_t>({2, 2}, {1, 3, 4, 4});
  Tensor shared_x = test::random_tensor({5, 3}, DType::f32, 2);
  Tensor y2 = Tensor::host({2, 2, 3}, DType::f32);
  ops::gather_rows(y2, shared_x, per_model, ctx);
  EXPECT_EQ(y2.flat<float>(1 * 6 + 0 * 3 + 2), shared_x.flat<float>(4 * 3 + 2));
  EXPECT_EQ(y2.flat<float>(0 * 6 + 1 * 3 + 0), shared_x.flat<float>(3 * 3 + 0));

  Tensor labels = Tensor::from_vector<std::int32_t>({5, 1}, {10, 11, 12, 13, 14});
  Tensor picked = Tensor::host({4, 1}, DType::i32);
  ops::gather_rows(picked, labels, idx, ctx);
  EXPECT_EQ(picked.to_vector<std::int32_t>(), (std::vector<std::int32_t>{14, 10, 10, 12}));
}

TEST(GatherRows, OutOfRangeIndexIsAnErrorNamingIt) {
  Context ctx;
  Tensor x = test::random_tensor({5, 3}, DType::f64, 1);
  Tensor idx = Tensor::from_vector<std::int32_t>({3}, {0, 5, 1});
  Tensor y = Tensor::host({3, 3}, DType::f64);
  try {
    ops::gather_rows(y, x, idx, ctx);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("index[1] = 5 is out of range [0, 5)"), std::string::npos) << e.what();
  }
  Tensor bad_shape = Tensor::host({2, 3}, DType::f64);
  Tensor ok_idx = Tensor::from_vector<std::int32_t>({3}, {0, 1, 2});
  EXPECT_THROW(ops::gather_rows(bad_shape, x, ok_idx, ctx), Error);
}

TEST(OneHot, RowsAndOutOfRangeLabels) {
  Context ctx;
  Tensor labels = Tensor::from_vector<std::int32_t>({2, 2}, {0, 2, 1, 7});
  Tensor y = Tensor::host({2, 2, 3}, DType::f32);
  ops::one_hot(y, labels, ctx);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0}));
  Tensor wrong = Tensor::host({2, 3}, DType::f32);
  EXPECT_THROW(ops::one_hot(wrong, labels, ctx), Error);
}

}  // namespace
}  // namespace groove
